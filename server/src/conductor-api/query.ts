// The part of Conductor's search query grammar its SDKs and UI send:
//   workflowType = 'a' AND status IN (RUNNING, FAILED) AND startTime > 1700000000000
// Clauses joined by AND; operators =, IN (...), >, >=, <, <=; values bare,
// 'single' or "double" quoted. Fields: workflowType (or workflowName),
// status, startTime, correlationId, workflowId.
import { badRequest } from "./errors.js";

export interface WorkflowQuery {
  names: string[];
  statuses: string[];
  correlationIds: string[];
  workflowIds: string[];
  /** Inclusive lower and exclusive upper bound on the start time (ms). */
  from?: number;
  to?: number;
}

const TOKEN = /\s*(?:(\()|(\))|(,)|(>=|<=|!=|=|>|<)|'((?:[^'\\]|\\.)*)'|"((?:[^"\\]|\\.)*)"|([^\s(),=<>!'"]+))/y;

type Token = { kind: "(" | ")" | "," | "op" | "word" | "quoted"; text: string };

function tokenize(query: string): Token[] {
  const tokens: Token[] = [];
  TOKEN.lastIndex = 0;
  let at = 0;
  while (at < query.length) {
    if (/^\s*$/.test(query.slice(at))) break;
    TOKEN.lastIndex = at;
    const m = TOKEN.exec(query);
    if (!m)
      throw badRequest(
        `query: cannot read ${JSON.stringify(query.slice(at, at + 30))}; write clauses like workflowType = 'name' AND status IN (RUNNING, FAILED)`,
      );
    at = TOKEN.lastIndex;
    if (m[1]) tokens.push({ kind: "(", text: "(" });
    else if (m[2]) tokens.push({ kind: ")", text: ")" });
    else if (m[3]) tokens.push({ kind: ",", text: "," });
    else if (m[4]) tokens.push({ kind: "op", text: m[4] });
    else if (m[5] !== undefined || m[6] !== undefined) tokens.push({ kind: "quoted", text: (m[5] ?? m[6] ?? "").replace(/\\(.)/g, "$1") });
    else tokens.push({ kind: "word", text: m[7] ?? "" });
  }
  return tokens;
}

const FIELDS: Record<string, keyof WorkflowQuery | "startTime"> = {
  workflowtype: "names",
  workflowname: "names",
  status: "statuses",
  correlationid: "correlationIds",
  workflowid: "workflowIds",
  starttime: "startTime",
};

export function parseWorkflowQuery(query: string): WorkflowQuery {
  const out: WorkflowQuery = { names: [], statuses: [], correlationIds: [], workflowIds: [] };
  const tokens = tokenize(query);
  let i = 0;
  const next = (): Token | undefined => tokens[i++];
  const value = (): string => {
    const t = next();
    if (!t || (t.kind !== "word" && t.kind !== "quoted")) throw badRequest(`query: expected a value after ${tokens[i - 2]?.text ?? "the operator"}`);
    return t.text;
  };
  while (i < tokens.length) {
    const fieldToken = next();
    if (!fieldToken || fieldToken.kind !== "word") throw badRequest(`query: expected a field name, found ${JSON.stringify(fieldToken?.text ?? "")}`);
    const field = FIELDS[fieldToken.text.toLowerCase()];
    if (!field) throw badRequest(`query: Baton searches by workflowType, status, startTime, correlationId and workflowId, not ${fieldToken.text}`);
    const opToken = next();
    const op = opToken?.kind === "op" ? opToken.text : opToken?.kind === "word" && opToken.text.toUpperCase() === "IN" ? "IN" : "";
    if (!op || op === "!=") throw badRequest(`query: after ${fieldToken.text} expected =, IN (...), >, >=, < or <=`);
    let values: string[];
    if (op === "IN") {
      if (next()?.kind !== "(") throw badRequest(`query: IN takes a list in parentheses, e.g. status IN (RUNNING, FAILED)`);
      values = [];
      for (;;) {
        values.push(value());
        const t = next();
        if (t?.kind === ")") break;
        if (t?.kind !== ",") throw badRequest("query: an IN list is values separated by commas, closed by )");
      }
    } else values = [value()];
    if (field === "startTime") {
      const n = Number(values[0]);
      if (values.length !== 1 || !Number.isFinite(n)) throw badRequest(`query: startTime takes a time in epoch milliseconds, not ${values.join(",")}`);
      if (op === ">") out.from = Math.max(out.from ?? 0, n + 1);
      else if (op === ">=") out.from = Math.max(out.from ?? 0, n);
      else if (op === "<") out.to = Math.min(out.to ?? Infinity, n);
      else if (op === "<=") out.to = Math.min(out.to ?? Infinity, n + 1);
      else throw badRequest("query: startTime takes >, >=, < or <=");
    } else {
      if (op !== "=" && op !== "IN") throw badRequest(`query: ${fieldToken.text} takes = or IN (...)`);
      (out[field] as string[]).push(...values);
    }
    if (i < tokens.length) {
      const joiner = next();
      if (joiner?.kind !== "word" || joiner.text.toUpperCase() !== "AND")
        throw badRequest(`query: clauses are joined by AND (OR is not supported), found ${JSON.stringify(joiner?.text ?? "")}`);
    }
  }
  return out;
}
