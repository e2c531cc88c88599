// The queries pool: `${...}` templates whose paths hold JSONPath filters, a
// definition read, checked and hashed from its text when it is published or
// started inline (its paths' filters too), large REST bodies read into what
// their handlers use, and JSON Schemas (a flow's inputSchema), run in worker
// threads (piscina, as scripts and jq are), awaited, so the thread that
// serves calls never runs them. Each has its own bounds inside the thread (a filter's step budget and
// RE2); the pool's deadline, which terminates the thread, bounds the rest
// (ajv, which cannot be interrupted, or a template of many filters).
import { stringifyJson } from "@baton/json";
import { overrunText } from "../cpu-time.js";
import type { Json } from "../expressions/json.js";
import type { BodyRead, BodyViewName } from "../conductor-api/body-views.js";
import type { DefinitionCheck } from "../runtime/definition-check.js";
import { EvaluationPool } from "./pool.js";
import type { QueriesReply, QueriesRequest } from "./queries-worker.js";

/** A query ran past its deadline, or its thread failed. */
export class QueryError extends Error {
  override readonly name = "QueryError";
}

/** Each in CPU time (cpu-time.ts). */
export const DEFAULT_QUERY_LIMITS = {
  /** A whole template: each filter in it stops itself within a second (expressions/filter.ts). */
  resolveMs: 10_000,
  /** Compiling or checking one JSON Schema. */
  schemaMs: 5_000,
  /** Checking a definition's paths at publish time (filters parsed, their patterns compiled), a batch of them at a time: as long as a schema's compiling. */
  pathMs: 5_000,
  /**
   * All of one publish's path checks together, in the threads' time: a
   * definition of many paths each near pathMs would otherwise hold a thread
   * for minutes. Once spent, the paths left are refused unchecked.
   */
  publishMs: 20_000,
  /**
   * Reading and checking a definition of up to 4 MiB (its parse, the SDK's checks, its expressions, two key-sorted copies
   * for its hashes), or reading a REST body of that size: tens of times what it takes.
   */
  definitionMs: 10_000,
};

export interface Queries {
  /** Resolves `template` against `context` (JSON), filters included. Rejects with QueryError. */
  resolve(template: Json, context: { [name: string]: Json }, taskId?: string): Promise<Json>;
  /** Why `schema` (JSON text) is not a valid JSON Schema, if it is not. Rejects with QueryError. */
  schemaProblem(schema: string): Promise<string | undefined>;
  /**
   * What each path's filters use that they may not (expressions/path.ts's
   * pathProblems), for publish time, and the thread's time on them; stopped
   * after `timeoutMs` (at most the pathMs limit). Rejects with QueryError.
   */
  pathProblems(paths: string[], timeoutMs?: number): Promise<{ problems: string[][]; ms: number }>;
  /** Checks `input` against `schema`: what is wrong with either, nothing when it passes. Rejects with QueryError. */
  checkInput(schema: Json, input: Json): Promise<{ invalidSchema?: string; refused?: string }>;
  /**
   * The workflow definition `text` holds, read as the payload `field` and
   * checked (definition-check.ts): a string saying why it was refused before
   * it could be checked. Rejects with QueryError.
   */
  checkDefinition(field: string, text: string, limitBytes: number): Promise<DefinitionCheck | string>;
  /** A REST body read into its route's view (conductor-api/body-views.ts). Rejects with QueryError. */
  readBody(view: BodyViewName, text: string, params: Record<string, string>): Promise<BodyRead>;
  /** The definition `text` holds, stored as `version`: its hash and text. Rejects with QueryError. */
  storedAs(text: string, version: number): Promise<{ hash: string; text: string }>;
  /** The limits it runs under. */
  readonly limits: typeof DEFAULT_QUERY_LIMITS;
  /** How many times a thread was replaced (a deadline, a crash). */
  stats(): { workerRestarts: number };
  close(): Promise<void>;
}

export function createQueries(limits: Partial<typeof DEFAULT_QUERY_LIMITS> = {}, threads = 2): Queries {
  const all = { ...DEFAULT_QUERY_LIMITS, ...limits };
  const { resolveMs, schemaMs, pathMs, definitionMs } = all;
  const pool = new EvaluationPool<QueriesRequest, QueriesReply>({ boot: { engine: "queries" }, threads, resourceLimits: { maxOldGenerationSizeMb: 512 } });

  async function run<Kind extends QueriesReply & { ok: true }>(request: QueriesRequest, timeoutMs: number, what: string): Promise<Kind> {
    const answer = await pool.run(request, timeoutMs);
    if (!answer.ok)
      throw new QueryError(
        answer.reason === "timeout" ? `${what} ${overrunText(answer.overrun, timeoutMs)} and was stopped` : `${what} failed: ${answer.detail}`,
      );
    if (!answer.reply.ok) throw new QueryError(`${what} failed: ${answer.reply.message}`);
    return answer.reply as Kind;
  }

  return {
    async resolve(template, context, taskId) {
      const request: QueriesRequest = { kind: "resolve", template, context, ...(taskId !== undefined ? { taskId } : {}) };
      return (await run<Extract<QueriesReply, { kind: "resolved" }>>(request, resolveMs, "resolving a JSONPath filter")).value;
    },
    async schemaProblem(schema) {
      return (await run<Extract<QueriesReply, { kind: "schema" }>>({ kind: "schema", schema }, schemaMs, "compiling the JSON Schema")).problem;
    },
    async pathProblems(paths, timeoutMs = pathMs) {
      const what = paths.length === 1 ? "checking the path" : `checking ${paths.length} paths`;
      const { problems, ms } = await run<Extract<QueriesReply, { kind: "paths" }>>({ kind: "paths", paths }, Math.min(timeoutMs, pathMs), what);
      return { problems, ms };
    },
    async checkInput(schema, input) {
      const { invalidSchema, refused } = await run<Extract<QueriesReply, { kind: "validated" }>>(
        { kind: "validate", schema: stringifyJson(schema), input },
        schemaMs,
        "checking the input against the JSON Schema",
      );
      return { ...(invalidSchema !== undefined ? { invalidSchema } : {}), ...(refused !== undefined ? { refused } : {}) };
    },
    async checkDefinition(field, text, limitBytes) {
      const answer = await run<Extract<QueriesReply, { kind: "checked" }>>({ kind: "check", field, text, limitBytes }, definitionMs, "checking the definition");
      return "refused" in answer ? answer.refused : answer.check;
    },
    async storedAs(text, version) {
      const { hash, text: stored } = await run<Extract<QueriesReply, { kind: "stored" }>>(
        { kind: "stored", text, version },
        definitionMs,
        "hashing the definition",
      );
      return { hash, text: stored };
    },
    async readBody(view, text, params) {
      return (await run<Extract<QueriesReply, { kind: "body" }>>({ kind: "body", view, text, params }, definitionMs, "reading the request body")).read;
    },
    limits: all,
    stats: () => ({ workerRestarts: pool.restarts }),
    close: () => pool.close(),
  };
}
