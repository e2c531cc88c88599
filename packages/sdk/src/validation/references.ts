// Rules about names: duplicate reference names, `${ref...}` naming no task,
// worker tasks with no task definition.
import { quoted, shortened } from "@baton/json";
import type { ValidationIssue } from "./issue.js";
import { pointer } from "./pointer.js";
import { SYSTEM_TASK_TYPES } from "../def.js";
import { isObj, str, taskType, type Obj, type TaskSite } from "./tree.js";

export function duplicateRefIssues(sites: TaskSite[]): ValidationIssue[] {
  const first = new Map<string, string>();
  const errors: ValidationIssue[] = [];
  for (const { task, path } of sites) {
    const ref = str(task["taskReferenceName"]);
    if (!ref) continue;
    const seen = first.get(ref);
    if (seen === undefined) first.set(ref, path);
    else {
      errors.push({
        path: pointer(path, "taskReferenceName"),
        message: `duplicate taskReferenceName ${quoted(ref)} (first used at ${shortened(seen)})`,
      });
    }
  }
  return errors;
}

// First segment of a `${...}` expression that reads into a task: `${ref.output.x}`, `${ref['x']}`.
const EXPRESSION = /\$\{([^}]*)\}/g;
const NOT_TASK_REFS = new Set(["workflow", "CPEWF_TASK_ID", "CPEWF_PARENT_TASK_ID"]);

function readsRef(expression: string): string | undefined {
  const m = /^\s*([^.[\s]+)\s*[.[]/.exec(expression);
  const head = m?.[1];
  if (!head || NOT_TASK_REFS.has(head) || head.startsWith("$")) return undefined;
  return head;
}

function unknownRefsIn(value: unknown, path: string, refs: Set<string>, out: ValidationIssue[]): void {
  if (typeof value === "string") {
    for (const m of value.matchAll(EXPRESSION)) {
      const ref = readsRef(m[1] ?? "");
      if (ref && !refs.has(ref)) {
        out.push({ path, message: `${quoted(m[0])} names task ${quoted(ref)}, which is not in this workflow (it resolves to null)` });
      }
    }
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => unknownRefsIn(v, pointer(path, i), refs, out));
  } else if (isObj(value)) {
    for (const [k, v] of Object.entries(value)) unknownRefsIn(v, pointer(path, k), refs, out);
  }
}

/** Warnings for expressions that read a task no definition path can contain. */
export function unknownRefWarnings(def: Obj, sites: TaskSite[]): ValidationIssue[] {
  // A dynamic fork creates reference names at run time, so absence proves nothing.
  if (sites.some((s) => taskType(s.task) === "FORK_JOIN_DYNAMIC")) return [];
  const refs = new Set(sites.map((s) => str(s.task["taskReferenceName"])).filter((r) => r !== undefined));
  const warnings: ValidationIssue[] = [];
  for (const { task, path } of sites) {
    unknownRefsIn(task["inputParameters"], pointer(path, "inputParameters"), refs, warnings);
  }
  unknownRefsIn(def["outputParameters"], "/outputParameters", refs, warnings);
  return warnings;
}

/** A worker task that needs a task definition: its name, and where that name sits. */
export interface WorkerTaskName {
  name: string;
  path: string;
}

/** The worker tasks among `sites` that need a task definition (system tasks and tasks carrying their own need none). */
export function workerTaskNames(sites: TaskSite[]): WorkerTaskName[] {
  const out: WorkerTaskName[] = [];
  for (const { task, path } of sites) {
    const name = str(task["name"]);
    if (!name || SYSTEM_TASK_TYPES.has(taskType(task)) || task["taskDefinition"] !== undefined) continue;
    out.push({ name, path: pointer(path, "name") });
  }
  return out;
}

/** Warnings for worker tasks the server has no task definition for. */
export function missingTaskDefIssues(tasks: WorkerTaskName[], hasTaskDef: (name: string) => boolean): ValidationIssue[] {
  return tasks
    .filter(({ name }) => !hasTaskDef(name))
    .map(({ name, path }) => ({ path, message: `no task definition named ${quoted(name)} for this worker task` }));
}
