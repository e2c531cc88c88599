// Does every "${ref...}" read a step that has completed on every path to the reader?
// Walks the compiled definition carrying the set of references certain to be done:
// a switch passes on what all its cases share, a JOIN adds what its joinOn
// waited for, a loop body runs at least once, and TERMINATE ends a path.
import type { WorkflowTask } from "../../def.js";
import { pointer } from "../../validation/pointer.js";

/** A read of a task that cannot be proven to have run; `missing` when no such task exists. */
export interface BadRead {
  path: string;
  expression: string;
  ref: string;
  missing: boolean;
}

type Done = ReadonlySet<string> | null; // null: the path never gets here (after TERMINATE)

const EXPRESSION = /\$\{([^}]*)\}/g;
const NOT_TASK_REFS = new Set(["workflow", "CPEWF_TASK_ID", "CPEWF_PARENT_TASK_ID"]);

function readRef(expression: string): string | undefined {
  const head = /^\s*([^.[\s]+)\s*[.[]/.exec(expression)?.[1];
  return head && !NOT_TASK_REFS.has(head) && !head.startsWith("$") ? head : undefined;
}

interface Walk {
  all: Set<string>;
  completedAt: Map<string, ReadonlySet<string>>;
  /** A dynamic fork makes references at run time, so an unknown one proves nothing. */
  dynamic: boolean;
  bad: BadRead[];
}

function checkReads(value: unknown, path: string, done: ReadonlySet<string>, w: Walk): void {
  if (typeof value === "string") {
    for (const m of value.matchAll(EXPRESSION)) {
      const ref = readRef(m[1] ?? "");
      if (!ref || done.has(ref)) continue;
      const missing = !w.all.has(ref);
      if (missing && w.dynamic) continue;
      w.bad.push({ path, expression: m[0], ref, missing });
    }
  } else if (Array.isArray(value)) {
    value.forEach((v, i) => checkReads(v, pointer(path, i), done, w));
  } else if (typeof value === "object" && value !== null) {
    for (const [k, v] of Object.entries(value)) checkReads(v, pointer(path, k), done, w);
  }
}

const plus = (set: ReadonlySet<string>, ...refs: string[]) => new Set([...set, ...refs]);

function intersect(paths: Done[]): Done {
  const live = paths.filter((p): p is ReadonlySet<string> => p !== null);
  const [first, ...rest] = live;
  if (!first) return null;
  return new Set([...first].filter((r) => rest.every((p) => p.has(r))));
}

function after(task: WorkflowTask, path: string, done: ReadonlySet<string>, w: Walk): Done {
  const ref = task.taskReferenceName;
  const inside = plus(done, ref);
  switch (task.type) {
    case "TERMINATE":
      return null;
    case "FORK_JOIN":
      (task.forkTasks ?? []).forEach((b, i) => walkList(b, pointer(path, "forkTasks", i), inside, w));
      return inside; // branch results join the flow at the JOIN, through completedAt
    case "JOIN": {
      const joined = new Set(inside);
      for (const on of task.joinOn ?? []) for (const r of w.completedAt.get(on) ?? []) joined.add(r);
      return joined;
    }
    case "SWITCH":
    case "DECISION": {
      const cases = Object.entries(task.decisionCases ?? {}).map(([k, list]) => walkList(list, pointer(path, "decisionCases", k), inside, w));
      // No default case is an empty one: the flow goes straight on.
      cases.push(walkList(task.defaultCase ?? [], pointer(path, "defaultCase"), inside, w));
      const shared = intersect(cases);
      return shared && plus(shared, ref);
    }
    case "DO_WHILE": {
      const body = walkList(task.loopOver ?? [], pointer(path, "loopOver"), inside, w);
      // A loop over items may run zero times; a do-while runs its body at least once.
      const overItems = task.inputParameters?.["items"] !== undefined || task["items"] !== undefined;
      if (overItems) return inside;
      return body && plus(body, ref);
    }
    default:
      return inside;
  }
}

function walkList(tasks: readonly WorkflowTask[], path: string, start: ReadonlySet<string>, w: Walk): Done {
  let done: Done = start;
  tasks.forEach((task, i) => {
    if (done === null) return;
    const here = pointer(path, i);
    checkReads(task.inputParameters, pointer(here, "inputParameters"), done, w);
    done = after(task, here, done, w);
    if (done) w.completedAt.set(task.taskReferenceName, done);
  });
  return done;
}

function allTasks(tasks: readonly WorkflowTask[], out: WorkflowTask[] = []): WorkflowTask[] {
  for (const t of tasks) {
    out.push(t);
    for (const b of t.forkTasks ?? []) allTasks(b, out);
    for (const c of Object.values(t.decisionCases ?? {})) allTasks(c, out);
    allTasks(t.defaultCase ?? [], out);
    allTasks(t.loopOver ?? [], out);
  }
  return out;
}

/** Every read of a task output that is not certain to be there when read. */
export function badReads(def: { tasks: readonly WorkflowTask[]; outputParameters?: unknown }): BadRead[] {
  const tasks = allTasks(def.tasks);
  const w: Walk = {
    all: new Set(tasks.map((t) => t.taskReferenceName)),
    completedAt: new Map(),
    dynamic: tasks.some((t) => t.type === "FORK_JOIN_DYNAMIC"),
    bad: [],
  };
  const end = walkList(def.tasks, "/tasks", new Set(), w);
  if (end) checkReads(def.outputParameters, "/outputParameters", end, w);
  return w.bad;
}
