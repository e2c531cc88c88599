// The part of Conductor's search query grammar its SDKs and UI send:
//   workflowType = 'a' AND status IN (RUNNING, FAILED) AND startTime > 1700000000000
// Clauses joined by AND; operators =, IN (...), >, >=, <, <=; values bare,
// 'single' or "double" quoted. Fields: workflowType (or workflowName),
// status, startTime, correlationId, workflowId. And the `sort` parameter:
//   startTime:DESC   (Conductor's field:ASC|DESC; several are joined by |)
import { quoted, shortened } from "@baton/json";
import { RunOrder, WorkflowStatus, type Workflow } from "@baton/protocol";
import { badRequest } from "./errors.js";

export interface WorkflowQuery {
  names: string[];
  statuses: string[];
  correlationIds: string[];
  workflowIds: string[];
  /** Inclusive lower and exclusive upper bound on the start time (ms). */
  from?: number;
  to?: number;
  /** Only runs of this version (with one name). */
  version?: number;
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
    if (!t || (t.kind !== "word" && t.kind !== "quoted")) throw badRequest(`query: expected a value after ${shortened(tokens[i - 2]?.text ?? "the operator")}`);
    return t.text;
  };
  while (i < tokens.length) {
    const fieldToken = next();
    if (!fieldToken || fieldToken.kind !== "word") throw badRequest(`query: expected a field name, found ${quoted(fieldToken?.text ?? "")}`);
    const field = FIELDS[fieldToken.text.toLowerCase()];
    if (!field) throw badRequest(`query: Baton searches by workflowType, status, startTime, correlationId and workflowId, not ${shortened(fieldToken.text)}`);
    const opToken = next();
    const op = opToken?.kind === "op" ? opToken.text : opToken?.kind === "word" && opToken.text.toUpperCase() === "IN" ? "IN" : "";
    if (!op || op === "!=") throw badRequest(`query: after ${shortened(fieldToken.text)} expected =, IN (...), >, >=, < or <=`);
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
      if (values.length !== 1 || !Number.isFinite(n))
        throw badRequest(`query: startTime takes a time in epoch milliseconds, not ${shortened(values.join(","))}`);
      if (op === ">") out.from = Math.max(out.from ?? 0, n + 1);
      else if (op === ">=") out.from = Math.max(out.from ?? 0, n);
      else if (op === "<") out.to = Math.min(out.to ?? Infinity, n);
      else if (op === "<=") out.to = Math.min(out.to ?? Infinity, n + 1);
      else throw badRequest("query: startTime takes >, >=, < or <=");
    } else {
      if (op !== "=" && op !== "IN") throw badRequest(`query: ${shortened(fieldToken.text)} takes = or IN (...)`);
      (out[field] as string[]).push(...values);
    }
    if (i < tokens.length) {
      const joiner = next();
      if (joiner?.kind !== "word" || joiner.text.toUpperCase() !== "AND")
        throw badRequest(`query: clauses are joined by AND (OR is not supported), found ${quoted(joiner?.text ?? "")}`);
    }
  }
  return out;
}

/** Conductor's sort fields and the runs list orders they are (ascending, descending). */
const SORT_FIELDS: Record<string, [RunOrder, RunOrder]> = {
  starttime: [RunOrder.START_ASC, RunOrder.START_DESC],
  endtime: [RunOrder.END_ASC, RunOrder.END_DESC],
  workflowtype: [RunOrder.NAME_ASC, RunOrder.NAME_DESC],
  workflowname: [RunOrder.NAME_ASC, RunOrder.NAME_DESC],
  status: [RunOrder.STATUS_ASC, RunOrder.STATUS_DESC],
};

/**
 * The runs list order a search's `sort` asks for: one `field:ASC|DESC` (the
 * direction ASC when left out, as Conductor's Elasticsearch index takes it);
 * none: newest first. Baton sorts by one field, ties by start time then run id.
 */
export function parseSort(sort: string): RunOrder {
  const options = sort.split("|").filter((o) => o.trim() !== "");
  if (options.length === 0) return RunOrder.START_DESC;
  if (options.length > 1)
    throw badRequest(
      `sort: Baton sorts by one field (ties by startTime, then workflowId), not ${options.length}: send one of startTime, endTime, workflowType, status with :ASC or :DESC`,
    );
  const [field = "", direction = "ASC", ...rest] = options[0]!.split(":").map((p) => p.trim());
  const orders = SORT_FIELDS[field.toLowerCase()];
  if (!orders || rest.length > 0)
    throw badRequest(`sort: Baton sorts by startTime, endTime, workflowType or status, not ${JSON.stringify(field.slice(0, 40))}; e.g. sort=startTime:DESC`);
  const up = direction.toUpperCase();
  if (up !== "ASC" && up !== "DESC")
    throw badRequest(`sort: the direction after ${shortened(field)}: is ASC or DESC, not ${JSON.stringify(direction.slice(0, 20))}`);
  return orders[up === "ASC" ? 0 : 1];
}

const statusName = (run: Workflow) => WorkflowStatus[run.status] ?? "";
const cmp = <T extends string | bigint>(a: T, b: T) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Compares two runs in `order` as the server's runs list does (the key, then
 * start time, then run id, all in the order's direction), for merging the
 * lists of several searches. Names and statuses compare by code point.
 */
export function runComparator(order: RunOrder): (a: Workflow, b: Workflow) => number {
  const ascending = [RunOrder.START_ASC, RunOrder.END_ASC, RunOrder.NAME_ASC, RunOrder.STATUS_ASC].includes(order);
  const key = (a: Workflow, b: Workflow): number => {
    if (order === RunOrder.END_ASC || order === RunOrder.END_DESC) return cmp(a.endTimeMs, b.endTimeMs);
    if (order === RunOrder.NAME_ASC || order === RunOrder.NAME_DESC) return cmp(a.workflowName, b.workflowName) || cmp(a.createTimeMs, b.createTimeMs);
    if (order === RunOrder.STATUS_ASC || order === RunOrder.STATUS_DESC) return cmp(statusName(a), statusName(b)) || cmp(a.createTimeMs, b.createTimeMs);
    return cmp(a.createTimeMs, b.createTimeMs);
  };
  return (a, b) => (ascending ? 1 : -1) * (key(a, b) || cmp(a.workflowId, b.workflowId));
}
