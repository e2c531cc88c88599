// Validation of Conductor definitions before they reach a server: the schema's
// shape checks, then Baton's semantic rules. Every problem is collected; nothing throws.
import type { ValidationIssue, ValidationResult } from "./validation/issue.js";
import { duplicateRefIssues, missingTaskDefWarnings, unknownRefWarnings } from "./validation/references.js";
import { taskDefShapeIssues, workflowDefShapeIssues } from "./validation/shape.js";
import { systemTaskIssues } from "./validation/system-tasks.js";
import { isObj, nestingDepth, walkTasks } from "./validation/tree.js";

export type { ValidationIssue, ValidationResult } from "./validation/issue.js";
export { describeIssues } from "./validation/issue.js";
export { nestingDepth } from "./validation/tree.js";

export function validateWorkflowDef(def: unknown, options?: { hasTaskDef?: (name: string) => boolean }): ValidationResult {
  // The checks below recurse; refuse absurd nesting before they can overflow the stack.
  const depth = nestingDepth(def, MAX_DEFINITION_DEPTH);
  if (depth > MAX_DEFINITION_DEPTH) {
    return { errors: [{ path: "", message: `the definition nests deeper than ${MAX_DEFINITION_DEPTH} levels` }], warnings: [] };
  }
  const errors = workflowDefShapeIssues(def);
  const warnings: ValidationIssue[] = [];
  if (!isObj(def)) return { errors, warnings };
  const sites = walkTasks(def["tasks"], "/tasks");
  errors.push(...duplicateRefIssues(sites), ...systemTaskIssues(sites));
  warnings.push(...unknownRefWarnings(def, sites));
  if (options?.hasTaskDef) warnings.push(...missingTaskDefWarnings(sites, options.hasTaskDef));
  return { errors, warnings };
}

/**
 * The task names a workflow definition lists, wherever they sit (forks,
 * cases, loops): the task definitions `hasTaskDef` will be asked about.
 * None for a definition validation refuses for its nesting.
 */
export function taskNamesOf(def: unknown): string[] {
  if (!isObj(def) || nestingDepth(def, MAX_DEFINITION_DEPTH) > MAX_DEFINITION_DEPTH) return [];
  const names = walkTasks(def["tasks"], "/tasks").map(({ task }) => task["name"]);
  return [...new Set(names.filter((name): name is string => typeof name === "string"))];
}

export function validateTaskDef(def: unknown): ValidationIssue[] {
  const errors = taskDefShapeIssues(def);
  if (!isObj(def)) return errors;
  // Conductor refuses a response timeout longer than the task's own timeout.
  const timeout = def["timeoutSeconds"];
  const response = def["responseTimeoutSeconds"];
  if (typeof timeout === "number" && timeout > 0 && typeof response === "number" && response > timeout) {
    errors.push({
      path: "/responseTimeoutSeconds",
      message: `responseTimeoutSeconds (${response}) must not exceed timeoutSeconds (${timeout})`,
    });
  }
  return errors;
}

/** How deep a definition's JSON may nest. */
export const MAX_DEFINITION_DEPTH = 100;
