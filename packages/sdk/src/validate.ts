// Validation of Conductor definitions before they reach a server: the schema's
// shape checks, then Baton's semantic rules. Every problem is collected; nothing throws.
import type { ValidationIssue, ValidationResult } from "./validation/issue.js";
import { duplicateRefIssues, missingTaskDefIssues, unknownRefWarnings, workerTaskNames, type WorkerTaskName } from "./validation/references.js";
import { taskDefShapeIssues, workflowDefShapeIssues } from "./validation/shape.js";
import { systemTaskIssues } from "./validation/system-tasks.js";
import { isObj, nestingDepth, walkTasks } from "./validation/tree.js";

export type { ValidationIssue, ValidationResult } from "./validation/issue.js";
export { describeIssues } from "./validation/issue.js";
export { missingTaskDefIssues, type WorkerTaskName } from "./validation/references.js";
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
  if (options?.hasTaskDef) warnings.push(...missingTaskDefIssues(workerTaskNames(sites), options.hasTaskDef));
  return { errors, warnings };
}

/**
 * The worker tasks a workflow definition lists that need a task definition,
 * with where each name sits: validateWorkflowDef's warnings for those with
 * none are missingTaskDefIssues of them, so a server can look the names up
 * apart from the rest of the checks. None for a definition refused for its nesting.
 */
export function workerTasksOf(def: unknown): WorkerTaskName[] {
  if (!isObj(def) || nestingDepth(def, MAX_DEFINITION_DEPTH) > MAX_DEFINITION_DEPTH) return [];
  return workerTaskNames(walkTasks(def["tasks"], "/tasks"));
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
