// Shape checks: Conductor's own JSON Schemas run by ajv, every error collected.
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import addFormats from "ajv-formats";
import { taskDefSchema } from "../schemas/task-def.schema.js";
import { workflowDefSchema } from "../schemas/workflow-def.schema.js";
import type { ValidationIssue } from "./issue.js";
import { pointer } from "./pointer.js";

interface Validators {
  workflowDef: ValidateFunction;
  taskDef: ValidateFunction;
}

let compiled: Validators | undefined;

// Compiled once, on first use: compiling costs far more than validating.
function validators(): Validators {
  if (compiled) return compiled;
  // verbose: an error carries its schema node, where a pattern's patternText says in words what the pattern takes.
  const ajv = new Ajv({ allErrors: true, strict: false, verbose: true });
  addFormats.default(ajv);
  compiled = { workflowDef: ajv.compile(workflowDefSchema), taskDef: ajv.compile(taskDefSchema) };
  return compiled;
}

function toIssue(e: ErrorObject): ValidationIssue {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === "required" && typeof params["missingProperty"] === "string") {
    return { path: pointer(e.instancePath, params["missingProperty"]), message: "is required" };
  }
  let message = e.message ?? `fails ${e.keyword}`;
  if (e.keyword === "enum" && Array.isArray(params["allowedValues"])) {
    message += `: ${params["allowedValues"].map((v) => JSON.stringify(v)).join(", ")}`;
  }
  const patternText = (e.parentSchema as { patternText?: unknown } | undefined)?.patternText;
  if (e.keyword === "pattern" && typeof patternText === "string") message = `must be ${patternText}, not ${JSON.stringify(e.data)}`;
  return { path: e.instancePath, message };
}

function run(validate: ValidateFunction, value: unknown): ValidationIssue[] {
  if (validate(value)) return [];
  return (validate.errors ?? []).map(toIssue);
}

export function workflowDefShapeIssues(def: unknown): ValidationIssue[] {
  return run(validators().workflowDef, def);
}

export function taskDefShapeIssues(def: unknown): ValidationIssue[] {
  return run(validators().taskDef, def);
}
