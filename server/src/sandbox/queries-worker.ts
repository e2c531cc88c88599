// The part of the queries pool (queries.ts) that runs inside its threads:
// `${...}` templates whose paths hold JSONPath filters, resolved against the
// JSON context sent with them, paths and definitions checked and definitions hashed at publish time, and JSON
// Schemas compiled and checked with ajv. Both are plain JavaScript bounded by their own limits (a filter's step
// budget and RE2; none for ajv), with the thread's termination at the pool's
// deadline as the backstop. Runs in a pool thread (pool-worker.ts).
import { threadCpuMs } from "../cpu-time.js";
import { readBodyView, type BodyRead, type BodyViewName } from "../conductor-api/body-views.js";
import { checkDefinition, storedAs, type DefinitionCheck } from "../runtime/definition-check.js";
import { PayloadRefusal } from "../service/json-checks.js";
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
  /** A workflow definition read from its JSON text as the payload `field` and checked (definition-check.ts). */
  | { kind: "check"; field: string; text: string; limitBytes: number }
  /** A workflow definition's JSON text stored as another version: its hash and text. */
  | { kind: "stored"; text: string; version: number }
  /** A large REST body read into its route's view (conductor-api/body-views.ts). */
  | { kind: "body"; view: BodyViewName; text: string; params: Record<string, string> };

export type QueriesReply =
  | { ok: true; kind: "resolved"; value: Json }
  | { ok: true; kind: "schema"; problem?: string }
  | { ok: true; kind: "validated"; invalidSchema?: string; refused?: string }
  /** `ms`: the thread's CPU time on them (wall time where not shown), which a publish's budget is charged. */
  | { ok: true; kind: "paths"; problems: string[][]; ms: number }
  /** `refused`: why the text is not a definition to check (json-checks.ts). */
  | { ok: true; kind: "checked"; check: DefinitionCheck }
  | { ok: true; kind: "checked"; refused: string }
  | { ok: true; kind: "stored"; hash: string; text: string }
  | { ok: true; kind: "body"; read: BodyRead }
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
        case "check":
          try {
            return { ok: true, kind: "checked", check: checkDefinition(request.field, request.text, request.limitBytes) };
          } catch (error) {
            if (error instanceof PayloadRefusal) return { ok: true, kind: "checked", refused: error.message };
            throw error;
          }
        case "stored":
          return { ok: true, kind: "stored", ...storedAs(request.text, request.version) };
        case "body":
          return { ok: true, kind: "body", read: readBodyView(request.view, request.text, request.params) };
      }
    } catch (error) {
      return { ok: false, message: error instanceof Error ? error.message : String(error) };
    }
  };
}
