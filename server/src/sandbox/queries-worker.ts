// The part of the queries pool (queries.ts) that runs inside its threads:
// `${...}` templates whose paths hold JSONPath filters, resolved against the
// JSON context sent with them, paths checked and definitions hashed at publish time, and JSON
// Schemas compiled and checked with ajv. Both are plain JavaScript bounded by their own limits (a filter's step
// budget and RE2; none for ajv), with the thread's termination at the pool's
// deadline as the backstop. Runs in a pool thread (pool-worker.ts).
import { threadCpuMs } from "../cpu-time.js";
import { identityOf, type DefinitionIdentity } from "../runtime/definition-hash.js";
import type { Json } from "../expressions/json.js";
import { pathProblems } from "../expressions/path.js";
import { resolveValue } from "../expressions/resolve.js";
import { inputProblem, schemaProblem } from "./json-schema.js";

export type QueriesRequest =
  /** Resolves `template` against `context` (JSON: `workflow` and the task entries it reads), filters included. */
  | { kind: "resolve"; template: Json; context: { [name: string]: Json }; taskId?: string }
  /** Compiles a JSON Schema (as JSON text): why it is not valid, if it is not. */
  | { kind: "schema"; schema: string }
  /** Checks `input` against a JSON Schema (as JSON text). */
  | { kind: "validate"; schema: string; input: Json }
  /** What each path's filters use that they may not (parsed, their patterns compiled on RE2): publish time's check. */
  | { kind: "paths"; paths: string[] }
  /** A workflow definition's hashes (definition-hash.ts identityOf), from its JSON text. */
  | { kind: "identity"; text: string; versions: (number | undefined)[] };

export type QueriesReply =
  | { ok: true; kind: "resolved"; value: Json }
  | { ok: true; kind: "schema"; problem?: string }
  | { ok: true; kind: "validated"; invalidSchema?: string; refused?: string }
  /** `ms`: the thread's CPU time on them (wall time where not shown), which a publish's budget is charged. */
  | { ok: true; kind: "paths"; problems: string[][]; ms: number }
  | ({ ok: true; kind: "identity" } & DefinitionIdentity)
  | { ok: false; message: string };

export function queriesWorker(): (request: QueriesRequest) => QueriesReply {
  return (request) => {
    try {
      switch (request.kind) {
        case "resolve":
          return {
            ok: true,
            kind: "resolved",
            value: resolveValue(request.template, request.context, { runFilters: true, ...(request.taskId !== undefined ? { taskId: request.taskId } : {}) }),
          };
        case "schema": {
          const problem = schemaProblem(request.schema);
          return problem === undefined ? { ok: true, kind: "schema" } : { ok: true, kind: "schema", problem };
        }
        case "validate":
          return { ok: true, kind: "validated", ...inputProblem(request.schema, request.input) };
        case "paths": {
          // Charged in CPU time where the thread can read it, as the pool's limits are.
          const [cpu, wall] = [threadCpuMs(), performance.now()];
          const problems = request.paths.map(pathProblems);
          const ms = cpu === undefined ? performance.now() - wall : (threadCpuMs() ?? cpu) - cpu;
          return { ok: true, kind: "paths", problems, ms };
        }
        case "identity":
          return { ok: true, kind: "identity", ...identityOf(request.text, request.versions) };
      }
    } catch (error) {
      return { ok: false, message: error instanceof Error ? error.message : String(error) };
    }
  };
}
