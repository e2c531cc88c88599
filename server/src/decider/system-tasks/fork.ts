// FORK_JOIN, FORK_JOIN_DYNAMIC and the JOIN that waits for their branches.
import { MAX_FORK_BRANCHES, definitionRef, iterationRef, type WorkflowTask } from "@baton/sdk";
import type { TaskContext } from "../task-context.js";
import { TERMINAL_TASK, SUCCESSFUL_TASK, endedOrEnding, type Json, type JsonObject, type TaskState } from "../model.js";
import type { SystemTask } from "./contract.js";
import { fail, inProgress } from "./outcomes.js";

export const fork: SystemTask = {
  start(d, task) {
    const wt = d.workflowTaskOf(task)!;
    d.endTask(task, "COMPLETED", "");
    task.handled = true;
    for (const branch of wt.forkTasks ?? []) {
      if (branch[0]) d.scheduleOrJump(branch[0], task.iteration);
      // A branch's first task ended the run (a TERMINATE), or it waits for its output to end: nothing more is scheduled.
      if (endedOrEnding(d.run)) return;
    }
    scheduleJoinAfter(d, task);
  },
};

/** Schedules the JOIN that follows a fork in the definition. */
function scheduleJoinAfter(d: TaskContext, forkTask: TaskState, joinOn?: string[]): void {
  const next = d.graph.next(d.defRef(forkTask));
  if (next.kind !== "task") return;
  const join = d.newTask(next.task, { iteration: forkTask.iteration, ...(joinOn ? { marks: { joinOn } } : {}) });
  // Conductor shows a dynamic join's references in its input.
  if (joinOn) join.input = { ...join.input, joinOn };
  d.dispatch(join);
}

export function joinRefs(d: TaskContext, task: TaskState): string[] {
  const refs = task.marks.joinOn ?? d.workflowTaskOf(task)?.joinOn ?? [];
  // Inside a loop, each name means this iteration's instance (given with or without its suffix).
  return refs.map((ref) => iterationRef(definitionRef(ref, task.iteration), task.iteration));
}

export const join: SystemTask = {
  reopen: true,
  start(d, task) {
    inProgress(d, task);
    join.onChildEnded!(d, task);
  },
  onChildEnded(d, task) {
    const latest = d.latestByRef();
    const refs = joinRefs(d, task);
    const done = (ref: string) => {
      const branchTask = latest.get(ref);
      return branchTask !== undefined && TERMINAL_TASK.has(branchTask.status) && branchTask.handled;
    };
    // Branches tend to end in the order they were forked: looking from the last
    // one finds a pending branch at once, so a wide fork's join costs O(1) per branch.
    for (let i = refs.length - 1; i >= 0; i--) if (!done(refs[i]!)) return;
    const output: JsonObject = {};
    const failed: TaskState[] = [];
    const withErrors: TaskState[] = [];
    for (const ref of refs) {
      const branchTask = latest.get(ref)!;
      if (!SUCCESSFUL_TASK.has(branchTask.status)) failed.push(branchTask);
      if (branchTask.status === "COMPLETED_WITH_ERRORS") withErrors.push(branchTask);
      // Conductor leaves out branches whose output is empty.
      if (Object.keys(branchTask.output).length > 0) output[ref] = branchTask.output;
    }
    task.output = output;
    const wt = d.workflowTaskOf(task);
    if (failed.length > 0 && !wt?.optional) {
      const first = failed[0]!;
      d.endTask(task, "FAILED", `join failed: task ${first.ref} ended ${first.status}`);
    } else if (withErrors.length > 0) {
      // An optional branch failed: the join says so, as Conductor's does (its reason names each one).
      d.endTask(task, "COMPLETED_WITH_ERRORS", `${withErrors.map((t) => `${t.defName}/${t.id}`).join(" ")} completed with errors`);
    } else d.endTask(task, "COMPLETED", "");
  },
};

export const dynamicFork: SystemTask = {
  start(d, task) {
    const wt = d.workflowTaskOf(task)!;
    const tooWide = (count: number) => {
      if (count <= MAX_FORK_BRANCHES) return false;
      const fix = "fork sub-workflows that each take a slice of the list";
      fail(d, task, `the dynamic fork lists ${count} tasks, over the ${MAX_FORK_BRANCHES} one fork may start; ${fix}`, true);
      return true;
    };
    let tasks: WorkflowTask[];
    const listParam = wt.dynamicForkTasksParam ?? wt.dynamicForkJoinTasksParam;
    if (listParam) {
      tasks = (task.input[listParam] ?? []) as unknown as WorkflowTask[];
    } else {
      const name = task.input["forkTaskName"];
      const list = task.input["forkTaskInputs"];
      if (typeof name !== "string" || !Array.isArray(list)) {
        fail(d, task, "FORK_JOIN_DYNAMIC needs dynamicForkTasksParam, or forkTaskName and forkTaskInputs in its input", true);
        return;
      }
      if (tooWide(list.length)) return;
      const type = typeof task.input["forkTaskType"] === "string" ? (task.input["forkTaskType"] as string) : "SIMPLE";
      tasks = list.map((_, i) => ({ name, taskReferenceName: `${name}_${i}`, type }));
    }
    if (!Array.isArray(tasks) || tasks.some((t) => !t || typeof t.taskReferenceName !== "string" || typeof t.name !== "string")) {
      fail(d, task, "the dynamic fork's task list must be a list of tasks with name and taskReferenceName", true);
      return;
    }
    if (tooWide(tasks.length)) return;
    const refs = tasks.map((t) => t.taskReferenceName);
    // One pass over a set of the list's names, the run's own found in its book: a fork may list 10,000 tasks,
    // and searching the list once per task was quadratic.
    const used = d.latestByRef();
    const listed = new Set<string>();
    const clash = refs.find((ref) => {
      if (listed.has(ref) || used.has(ref)) return true;
      listed.add(ref);
      return false;
    });
    if (clash) {
      fail(d, task, `the dynamic fork's reference name ${clash} is already used in this run`, true);
      return;
    }
    // Conductor: the forked tasks are in the fork's input, its output is empty.
    task.input = { ...task.input, forkedTasks: refs, forkedTaskDefs: tasks as unknown as Json };
    startBranches(d, task, 0);
  },
  evaluation: () => ({ kind: "continue", of: "fork" }),
  onEvaluated(d, task) {
    startBranches(d, task, task.marks.continueAt ?? 0);
  },
};

/**
 * Starts a dynamic fork's branches from the `from`th on, as many as the
 * decision's task budget leaves room for (TASK_BUDGET); the rest go on in the
 * next event (a `continue` evaluation), the fork IN_PROGRESS meanwhile and its
 * join not yet there. The last of them ends the fork and schedules its join,
 * which then waits for every branch; a fork that fits does all this at once.
 * 5,000 branches made in one decision held the serving thread 40 ms and more.
 */
function startBranches(d: TaskContext, task: TaskState, from: number): void {
  const tasks = task.input["forkedTaskDefs"] as unknown as WorkflowTask[];
  const end = Math.min(tasks.length, from + d.tasksLeft());
  const all = end === tasks.length;
  if (all) {
    delete task.marks.continueAt;
    d.endTask(task, "COMPLETED", "");
    task.handled = true;
  } else if (task.status === "SCHEDULED") inProgress(d, task);
  const inputOf = branchInputs(d.workflowTaskOf(task)!, task);
  const dynamicJoin = d.defRef(task);
  for (let i = from; i < end; i++) {
    const t = tasks[i]!;
    const forked = d.newTask(t.type != null ? t : { ...t, type: "SIMPLE" }, { iteration: 0, input: inputOf(t, i), marks: { dynamicJoin } });
    d.dispatch(forked);
    if (endedOrEnding(d.run)) return;
  }
  if (all) return scheduleJoinAfter(d, task, task.input["forkedTasks"] as string[]);
  task.marks.continueAt = end;
  d.requestEvaluation(task, { kind: "continue", of: "fork" });
}

/** How a dynamic fork's branch finds its input: by its reference name in the inputs given, or by its place in forkTaskInputs. */
function branchInputs(wt: WorkflowTask, task: TaskState): (t: WorkflowTask, i: number) => JsonObject {
  if (wt.dynamicForkTasksParam ?? wt.dynamicForkJoinTasksParam) {
    const inputs = (task.input[wt.dynamicForkTasksInputParamName ?? ""] ?? {}) as Record<string, JsonObject>;
    return (t) => inputs[t.taskReferenceName] ?? {};
  }
  const list = task.input["forkTaskInputs"] as JsonObject[];
  return (_, i) => list[i] ?? {};
}
