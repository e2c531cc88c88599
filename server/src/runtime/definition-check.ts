// A workflow definition read and checked from its JSON text in the queries
// pool (issue 14), so that the thread serving calls never parses, validates or
// walks a definition it is given to publish: at 4 MiB its parse, the SDK's
// checks, the listing of its expressions and its hashes each held that thread
// for 100-300 ms. The thread gets back what it acts on: the few fields it
// stores beside the body, the issues found, the worker tasks whose task
// definitions it looks up, the paths whose filters it has checked under the
// caller's budget, and the hashes. Runs in a pool thread (queries-worker.ts).
import { stringifyJson } from "@baton/json";
import { validateWorkflowDef, workerTasksOf, type ValidationIssue, type WorkerTaskName, type WorkflowDef } from "@baton/sdk";
import { hasPathSteps } from "../expressions/path.js";
import { listExpressions, type ExpressionSite } from "../expressions/list.js";
import { readPayload } from "../service/json-checks.js";
import { contentHash, definitionHash } from "./definition-hash.js";

/** What the queries pool found of a definition's text (checkDefinition). */
export interface DefinitionCheck {
  /** As the definition gives them (undefined where it does not: its errors say so). */
  name: string;
  version?: number;
  description: string;
  /** rateLimitConfig.concurrentExecLimit, when a positive number: running runs per key. */
  runLimit?: number;
  /** The SDK's checks (validateWorkflowDef); its warnings for missing task definitions are the server's to add (workerTasks). */
  errors: ValidationIssue[];
  warnings: ValidationIssue[];
  /** The worker tasks that need a task definition (the SDK's missingTaskDefIssues of those not found). */
  workerTasks: WorkerTaskName[];
  /** The `${...}` paths whose steps the server checks under the caller's budget (plain ones have nothing to check). */
  paths: ExpressionSite[];
  /** The JSON Schema it enforces on its runs' input (run-input.ts), as JSON text. */
  inputSchema?: string;
  /** Its content hash, and its hash as it is (the version it gives, or none). */
  contentHash: string;
  hash: string;
}

/**
 * Reads `text` as the payload `field` (json-checks.ts: the same refusals, as
 * PayloadRefusal) and checks it. Nothing for a definition refused before it
 * is a definition.
 */
export function checkDefinition(field: string, text: string, limitBytes: number): DefinitionCheck {
  const def = readPayload(field, text, limitBytes) as unknown as WorkflowDef;
  const { errors, warnings } = validateWorkflowDef(def);
  const schema = enforcedSchema(def);
  const runLimit = def.rateLimitConfig?.["concurrentExecLimit"];
  return {
    name: def.name,
    ...(typeof def.version === "number" ? { version: def.version } : {}),
    description: typeof def.description === "string" ? def.description : "",
    ...(typeof runLimit === "number" && runLimit > 0 ? { runLimit } : {}),
    errors,
    warnings,
    workerTasks: workerTasksOf(def),
    // One holding another (`${a[?(@.x == ${b})]}`) is only a path once the inner one is resolved.
    paths: errors.length > 0 ? [] : listExpressions(def).filter((site) => !site.expression.includes("${") && hasPathSteps(site.expression)),
    ...(schema ? { inputSchema: stringifyJson(schema) } : {}),
    contentHash: contentHash(def),
    hash: definitionHash(def),
  };
}

/** The definition `text` holds stored as `version`: its hash and its text. */
export function storedAs(text: string, version: number): { hash: string; text: string } {
  const def = { ...(readPayload("definition_json", text, Infinity) as unknown as WorkflowDef), version };
  return { hash: definitionHash(def), text: stringifyJson(def) };
}

/** The JSON Schema a definition enforces on its runs' input, if any (Orkes Conductor's inputSchema: a SchemaDef whose `data` is a JSON Schema). */
export function enforcedSchema(def: WorkflowDef): { [key: string]: unknown } | undefined {
  const schemaDef = def.inputSchema as { type?: unknown; data?: unknown } | undefined;
  if (!schemaDef || def.enforceSchema === false) return undefined;
  if (schemaDef.type !== undefined && schemaDef.type !== "JSON") return undefined;
  if (typeof schemaDef.data !== "object" || schemaDef.data === null || Array.isArray(schemaDef.data)) return undefined;
  return schemaDef.data as { [key: string]: unknown };
}
