// Walks a WorkflowDef's task tree (forks, cases, loops) without trusting its shape.
import { pointer } from "./pointer.js";

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

export function str(v: unknown): string | undefined {
  return typeof v === "string" && v.length > 0 ? v : undefined;
}

/** The JSON nesting depth of `value`, counted iteratively (no stack overflow) and stopping past `limit`. */
export function nestingDepth(value: unknown, limit: number): number {
  let max = 0;
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    max = Math.max(max, depth);
    if (max > limit) return max;
    for (const item of Object.values(v)) stack.push([item, depth + 1]);
  }
  return max;
}

/** A task seen during the walk: where it is and the list that holds it. */
export interface TaskSite {
  task: Obj;
  path: string;
  /** The list containing the task and the task's index in it (for "followed by" rules). */
  siblings: unknown[];
  index: number;
}

/** The nested task lists of one task, with their pointers. */
export function childLists(task: Obj, path: string): { list: unknown[]; path: string }[] {
  const out: { list: unknown[]; path: string }[] = [];
  const cases = task["decisionCases"];
  if (isObj(cases)) {
    for (const [key, list] of Object.entries(cases)) {
      if (Array.isArray(list)) out.push({ list, path: pointer(path, "decisionCases", key) });
    }
  }
  const def = task["defaultCase"];
  if (Array.isArray(def)) out.push({ list: def, path: `${path}/defaultCase` });
  const forks = task["forkTasks"];
  if (Array.isArray(forks)) {
    forks.forEach((branch, b) => {
      if (Array.isArray(branch)) out.push({ list: branch, path: `${path}/forkTasks/${b}` });
    });
  }
  const loop = task["loopOver"];
  if (Array.isArray(loop)) out.push({ list: loop, path: `${path}/loopOver` });
  return out;
}

/** Every task object in the list and below it, depth first, in document order. */
export function walkTasks(list: unknown, path: string, out: TaskSite[] = []): TaskSite[] {
  if (!Array.isArray(list)) return out;
  list.forEach((task, index) => {
    if (!isObj(task)) return;
    const here = `${path}/${index}`;
    out.push({ task, path: here, siblings: list, index });
    for (const child of childLists(task, here)) walkTasks(child.list, child.path, out);
  });
  return out;
}

/** The task's type as Conductor reads it: absent means SIMPLE. */
export function taskType(task: Obj): string {
  return typeof task["type"] === "string" && task["type"] !== "" ? task["type"] : "SIMPLE";
}
