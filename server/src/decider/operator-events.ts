// What an operator (or an event handler) does to a run: pause and resume,
// terminate, retry, restart, rerun from a task, skip a task, signal a task,
// set variables. Each checks the run's status first and refuses what it does
// not allow; retry and a child's revival reopen what failed.
import { shortened } from "@baton/json";
import { iterationRef } from "@baton/sdk";
import { Refusal, type RunEvent } from "./contract.js";
import type { DecisionContext } from "./decision-context.js";
import { askAgain, awaitingEvaluation, awaitingInput, goesOnInSteps, requestInput } from "./evaluation-lease.js";
import { createRetry, newTask, schedule, scheduleOrJump } from "./flow.js";
import { SUCCESSFUL_TASK, TERMINAL_TASK, TERMINAL_WORKFLOW, type JsonObject, type RunState, type TaskState, type WorkflowStatus } from "./model.js";
import { variablesOverLimit } from "../rules/variables.js";
import { fairMarksOf } from "../fairness/key.js";
import { endRun } from "./run-end.js";
import { sameText } from "../payload-text.js";
import { SYSTEM_TASKS, isWorkerTask } from "./system-tasks/index.js";

function requireStatus(d: DecisionContext, allowed: WorkflowStatus[], action: string): void {
  if (!allowed.includes(d.run.status)) {
    throw new Refusal("FAILED_PRECONDITION", `cannot ${action} run ${d.run.id}: it is ${d.run.status}`);
  }
}

export function pause(d: DecisionContext): void {
  if (d.run.status === "PAUSED") return;
  requireStatus(d, ["RUNNING"], "pause");
  d.run.status = "PAUSED";
  d.reconcile();
}

export function resume(d: DecisionContext): void {
  if (d.run.status === "RUNNING") return;
  requireStatus(d, ["PAUSED"], "resume");
  d.run.status = "RUNNING";
  // Admitted while paused (see admit): it has not started, or not run again, yet.
  if (d.run.marks.admission === undefined && d.run.marks.revival) return d.reviveHeld();
  if (d.tasks.length === 0 && d.run.marks.admission === undefined) return d.start();
  // A loop's or a fork's answer, or a task's input, that came while paused was set aside: ask again now.
  for (const task of d.tasks) {
    if (goesOnInSteps(task) && awaitingEvaluation(task)) askAgain(d, task);
    else if (awaitingInput(task)) requestInput(d, task);
  }
  d.reconcile();
}

export function terminate(d: DecisionContext, reason: string): void {
  requireStatus(d, ["RUNNING", "PAUSED"], "terminate");
  endRun(d, "TERMINATED", reason);
}

export function retryRun(d: DecisionContext, resumeSubworkflowTasks: boolean): void {
  requireStatus(d, ["FAILED", "TIMED_OUT", "TERMINATED"], "retry");
  const retried = reopenFailed(d, resumeSubworkflowTasks);
  revive(d);
  if (retried === 0 && d.tasks.length === 0) d.start();
  else d.reconcile();
}

/**
 * Gives every reference whose latest instance failed another go: a new
 * attempt, or (joins, loops, resumed children) the same instance waiting again.
 */
export function reopenFailed(d: DecisionContext, resumeSubworkflowTasks: boolean, except?: TaskState): number {
  let retried = 0;
  for (const task of [...d.latestByRef().values()]) {
    if (task === except || !["FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT", "CANCELED"].includes(task.status)) continue;
    if (forking(task)) {
      forkAgain(d, task);
    } else if (task.type === "SUB_WORKFLOW" && task.subWorkflowId && resumeSubworkflowTasks) {
      // The child resumes where it failed and reports back to this task.
      reopen(d, task);
      d.effects.push({ kind: "retryRun", runId: task.subWorkflowId, resumeSubworkflowTasks });
    } else if (SYSTEM_TASKS[task.type]?.reopen) {
      // Joins and loops wait again instead of being copied; a loop that ended waiting to go on past its last
      // decision's budget asks again, as nothing else would wake it.
      reopen(d, task);
      if (task.marks.continueAt !== undefined) askAgain(d, task);
    } else {
      createRetry(d, task, { countsAsRetry: false });
    }
    retried++;
  }
  return retried;
}

/** A dynamic fork the run ended in while it was starting its branches (over several events, see fork.ts). */
function forking(task: TaskState): boolean {
  return task.type === "FORK_JOIN_DYNAMIC" && task.marks.continueAt !== undefined && TERMINAL_TASK.has(task.status);
}

/** The fork waits again, and starts the branches its run lacks (from the first) in the next event. */
function forkAgain(d: DecisionContext, fork: TaskState): void {
  const refs = fork.input["forkedTasks"] as string[];
  const latest = d.latestByRef();
  let next = 0;
  while (next < refs.length && latest.has(refs[next]!)) next++;
  fork.marks.continueAt = next;
  reopen(d, fork);
  askAgain(d, fork);
}

/** The same task instance waits again (a join, a loop, a resumed child). */
export function reopen(d: DecisionContext, task: TaskState): void {
  task.status = "IN_PROGRESS";
  task.handled = false;
  task.endedAt = 0;
  task.reason = "";
  d.touch(task);
}

/** An ended run runs again; its timeout counts from now (Conductor's lastRetriedTime). */
export function revive(d: DecisionContext): void {
  const run = d.run;
  run.status = "RUNNING";
  run.reason = "";
  run.endedAt = 0;
  run.failedTaskId = "";
  run.marks.lastRetriedAt = d.now;
  delete run.marks.permissiveFailure;
  delete run.marks.failureWorkflowStarted;
  // Ended while it waited for its key's slot: what it waited for is void (this revival took the slot, see concurrency/revival.ts).
  delete run.marks.admission;
  delete run.marks.revival;
}

export function restart(d: DecisionContext, latest: Extract<RunEvent, { kind: "restart" }>["def"]): void {
  const run = d.run;
  if (!TERMINAL_WORKFLOW.has(run.status)) {
    throw new Refusal("FAILED_PRECONDITION", `run ${run.id} is ${run.status}; only an ended run can be restarted`);
  }
  if (latest) {
    d.def = latest.def;
    d.graph = latest.graph;
    run.defHash = latest.hash;
    run.version = latest.version;
  }
  if (d.def.restartable === false) {
    throw new Refusal("FAILED_PRECONDITION", `workflow ${d.def.name} is not restartable (restartable: false)`);
  }
  for (const task of d.tasks) {
    d.removed.push(task.id);
    if (task.subWorkflowId && !TERMINAL_TASK.has(task.status)) {
      d.effects.push({ kind: "terminateRun", runId: task.subWorkflowId, reason: "parent restarted" });
    }
  }
  d.book.replace([]);
  d.changed.clear();
  d.resetResolver();
  Object.assign(run, {
    status: "RUNNING",
    output: {},
    variables: structuredClone(d.def.variables ?? {}),
    reason: "",
    failedRefs: [],
    failedTaskId: "",
    createdAt: d.now,
    endedAt: 0,
    nextSeq: 1,
    // Keyed again as a start would key it (on the definition it now runs), the key its starter gave it kept;
    // still in its tree, at its depth: the runs it starts count against its root's bound, its nesting goes on.
    marks: {
      ...fairMarksOf(d.def, run.input, run.correlationId, run.marks.inheritedFair),
      ...(run.marks.root !== undefined ? { root: run.marks.root } : {}),
      ...(run.marks.depth !== undefined ? { depth: run.marks.depth } : {}),
    },
  } satisfies Partial<RunState>);
  d.start();
}

export function rerun(d: DecisionContext, event: Extract<RunEvent, { kind: "rerun" }>): void {
  const run = d.run;
  const target = d.taskById(event.taskId);
  if (run.status === "RUNNING" || run.status === "PAUSED") {
    throw new Refusal("FAILED_PRECONDITION", `run ${run.id} is ${run.status}; rerun applies to an ended run`);
  }
  const wt = d.workflowTaskOf(target);
  if (!wt) throw new Refusal("INVALID_ARGUMENT", `task ${shortened(target.ref)} cannot be rerun: it is not in the definition`);
  // Everything from the target on is dropped and the flow resumes there.
  const keep: TaskState[] = [];
  for (const task of d.tasks) {
    if (task.seq >= target.seq) {
      d.removed.push(task.id);
      d.changed.delete(task);
      if (task.subWorkflowId && !TERMINAL_TASK.has(task.status)) {
        d.effects.push({ kind: "terminateRun", runId: task.subWorkflowId, reason: "rerun" });
      }
    } else keep.push(task);
  }
  d.book.replace(keep);
  if (event.workflowInput) run.input = event.workflowInput;
  d.resetResolver();
  Object.assign(run, { status: "RUNNING", reason: "", endedAt: 0, failedRefs: [], failedTaskId: "" } satisfies Partial<RunState>);
  delete run.marks.permissiveFailure;
  // Reopen the joins and loops the target sits in (they ended, or ended with the run).
  const targetRef = d.defRef(target);
  for (const task of d.tasks) {
    if (SYSTEM_TASKS[task.type]?.reopen && encloses(d, task, target, targetRef)) {
      reopen(d, task);
      if (task.type === "DO_WHILE") {
        task.iteration = target.iteration;
        task.output = { ...task.output, iteration: target.iteration };
      }
    }
  }
  schedule(d, wt, { iteration: target.iteration, ...(event.taskInput ? { input: event.taskInput } : {}) });
  // Parallel paths cut off by the removal (a fork's other branches, what followed their tasks) resume.
  for (const task of [...d.tasks]) {
    if (forking(task)) {
      forkAgain(d, task);
      continue;
    }
    if (!SUCCESSFUL_TASK.has(task.status) || !task.handled || task === target) continue;
    if (task.type === "FORK_JOIN") {
      for (const branch of d.workflowTaskOf(task)?.forkTasks ?? []) {
        if (branch[0] && !d.latest(iterationRef(branch[0].taskReferenceName, task.iteration))) scheduleOrJump(d, branch[0], task.iteration);
      }
      const join = d.graph.next(d.defRef(task));
      if (join.kind === "task" && !d.latest(iterationRef(join.task.taskReferenceName, task.iteration))) schedule(d, join.task, { iteration: task.iteration });
      continue;
    }
    if (["SWITCH", "DECISION", "FORK_JOIN_DYNAMIC", "DO_WHILE", "TERMINATE"].includes(task.type)) continue;
    const next = d.graph.next(d.defRef(task));
    if (next.kind === "task" && !d.latest(iterationRef(next.task.taskReferenceName, task.iteration))) {
      task.handled = false;
      d.touch(task);
    }
  }
  d.reconcile();
}

/** Whether the join or loop `container` waits on `target` (the target is in its loop body, or in its fork). */
function encloses(d: DecisionContext, container: TaskState, target: TaskState, targetRef: string): boolean {
  const ref = d.defRef(container);
  if (container.type === "DO_WHILE") return d.graph.descendants(ref).has(targetRef);
  if (container.iteration !== target.iteration && container.type !== "DO_WHILE") return false;
  const node = d.graph.nodes.get(ref);
  const fork = node?.list[node.index - 1];
  if (!fork) return false;
  return target.marks.dynamicJoin === fork.taskReferenceName || d.graph.descendants(fork.taskReferenceName).has(targetRef);
}

export function skip(d: DecisionContext, ref: string, output: JsonObject): void {
  requireStatus(d, ["RUNNING", "PAUSED"], "skip a task of");
  const existing = d.latestByRef().get(ref);
  if (existing && !TERMINAL_TASK.has(existing.status)) {
    if (existing.status === "IN_PROGRESS" && isWorkerTask(existing.type)) {
      throw new Refusal("FAILED_PRECONDITION", `task ${shortened(ref)} is already running; only a task not yet started can be skipped`);
    }
    existing.output = output;
    d.endTask(existing, "SKIPPED", "skipped by an operator");
    d.effects.push({ kind: "dequeue", taskId: existing.id });
  } else if (existing) {
    throw new Refusal("FAILED_PRECONDITION", `task ${shortened(ref)} has already ended (${existing.status})`);
  } else {
    const wt = d.graph.task(ref);
    if (!wt) throw new Refusal("NOT_FOUND", `no task ${shortened(ref)} in workflow ${d.def.name}`);
    // A placeholder: when the flow reaches this task it jumps over it.
    const placeholder = newTask(d, wt, { iteration: 0, placeholder: true });
    placeholder.status = "SKIPPED";
    placeholder.output = output;
    placeholder.handled = true;
    placeholder.endedAt = d.now;
    placeholder.reason = "skipped by an operator";
  }
  d.reconcile();
}

export function signal(d: DecisionContext, event: Extract<RunEvent, { kind: "signal" }>): void {
  const task = d.taskById(event.taskId);
  if (TERMINAL_WORKFLOW.has(d.run.status)) {
    throw new Refusal("FAILED_PRECONDITION", `run ${d.run.id} has ended (${d.run.status})`);
  }
  if (TERMINAL_TASK.has(task.status)) {
    throw new Refusal("FAILED_PRECONDITION", `task ${task.ref} has already ended (${task.status})`);
  }
  if (!["COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "COMPLETED_WITH_ERRORS"].includes(event.status)) {
    throw new Refusal("INVALID_ARGUMENT", `a signal sets COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR, not ${event.status}`);
  }
  // Added to what the task had: with nothing there, the signal's output as it came, and the text it came in.
  const output = { ...task.output, ...event.output };
  task.output = Object.keys(task.output).length === 0 ? sameText(output, event.output) : output;
  d.endTask(task, event.status, event.reason);
  d.effects.push({ kind: "dequeue", taskId: task.id });
  d.reconcile();
}

export function updateVariables(d: DecisionContext, event: Extract<RunEvent, { kind: "updateVariables" }>): void {
  const run = d.run;
  if (TERMINAL_WORKFLOW.has(run.status)) {
    throw new Refusal("FAILED_PRECONDITION", `run ${run.id} has ended (${run.status}); its variables stay as they were`);
  }
  const once = event.once;
  const applied = once ? (run.marks.eventActions ?? []).filter((a) => !once.finished.includes(a.event)) : [];
  if (once && applied.some((a) => a.event === once.event && a.action === once.action)) {
    throw new Refusal("FAILED_PRECONDITION", `event ${once.event}'s action ${shortened(once.action)} was applied to run ${run.id} already`);
  }
  const variables: JsonObject = { ...run.variables };
  for (const [key, value] of Object.entries(event.variables)) {
    const current = variables[key];
    variables[key] = event.appendArray && Array.isArray(current) ? [...current, ...(Array.isArray(value) ? value : [value])] : value;
  }
  const over = variablesOverLimit(variables, d.services?.maxVariablesBytes);
  if (over) throw new Refusal("INVALID_ARGUMENT", over);
  run.variables = variables;
  if (once) {
    applied.push({ event: once.event, action: once.action });
    run.marks.eventActions = applied;
  }
  d.reconcile();
}
