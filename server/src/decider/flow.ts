// The flow through a definition: what follows a task that ended (the next
// task, a join, a loop's next iteration, a retry, the run's failure), and
// how a task instance is made and handed to its executor.
import { charsOverNameLimit, iterationRef, MAX_NAME_CHARS, type TaskDef, type WorkflowTask } from "@baton/sdk";
import { SUCCESSFUL_TASK, TERMINAL_TASK, type JsonObject, type TaskMarks, type TaskState } from "./model.js";
import type { DecisionContext } from "./decision-context.js";
import { retryAt, startAt } from "./deadlines.js";
import { failBy, recordFailedRef } from "./run-end.js";
import { requestInput } from "./evaluation-lease.js";
import { FilterDeferred } from "../expressions/index.js";
import { SYSTEM_TASKS, isWorkerTask } from "./system-tasks/index.js";

export interface NewTaskOptions {
  iteration: number;
  input?: JsonObject;
  marks?: TaskMarks;
  /** An operator's SKIPPED placeholder: as Conductor makes one, it has no sequence number (0) and is listed before the other tasks. */
  placeholder?: boolean;
}

/** What the flow does with a task that just ended. */
export function onTaskEnded(d: DecisionContext, task: TaskState): void {
  if (task.status === "CANCELED" && d.run.marks.canceling) return;
  if (SUCCESSFUL_TASK.has(task.status)) return proceedAfter(d, task);
  if (task.retried) return;
  // Conductor lists every reference that failed, even when a retry then succeeded.
  recordFailedRef(d.run, task.ref);
  if (isRetriable(d, task)) {
    createRetry(d, task, { countsAsRetry: true });
    return;
  }
  const wt = d.workflowTaskOf(task);
  if (wt?.optional) {
    task.status = "COMPLETED_WITH_ERRORS";
    d.touch(task);
    return proceedAfter(d, task);
  }
  if (wt?.permissive) {
    if (!d.run.marks.permissiveFailure) {
      d.run.marks.permissiveFailure = { taskId: task.id, ref: task.ref, status: task.status, reason: task.reason };
    }
    recordFailedRef(d.run, task.ref);
    return proceedAfter(d, task);
  }
  failBy(d, task);
}

function isRetriable(d: DecisionContext, task: TaskState): boolean {
  if (task.status !== "FAILED" && task.status !== "TIMED_OUT") return false;
  return task.retryCount < maxRetries(d, task);
}

function maxRetries(d: DecisionContext, task: TaskState): number {
  const wt = d.workflowTaskOf(task);
  if (wt?.retryCount !== undefined) return wt.retryCount;
  const def = d.taskDefOf(task);
  // A task with no registered definition (system tasks too) is not retried.
  return def ? (def.retryCount ?? 3) : 0;
}

/** A new attempt of `failed` (after its retry delay when it counts as a retry). */
export function createRetry(d: DecisionContext, failed: TaskState, options: { countsAsRetry: boolean }): TaskState {
  failed.retried = true;
  failed.handled = true;
  d.touch(failed);
  const visibleAt = retryAt(d.now, d.taskDefOf(failed), failed.retryCount, options.countsAsRetry);
  const retry = freshInstance(
    { ...failed, id: d.newId(), seq: d.run.nextSeq++, retryCount: failed.retryCount + 1, retriedTaskId: failed.id, marks: { ...failed.marks } },
    d.now,
    visibleAt,
  );
  d.addTask(retry);
  dispatch(d, retry);
  return retry;
}

/** Schedules what follows `task` in the definition. */
export function proceedAfter(d: DecisionContext, task: TaskState): void {
  const dynamicJoin = task.marks.dynamicJoin;
  if (typeof dynamicJoin === "string") return branchEnded(d, dynamicJoin, task.iteration);
  const next = d.graph.next(d.defRef(task));
  const iteration = task.type === "DO_WHILE" ? (task.marks.outerIteration ?? 0) : task.iteration;
  switch (next.kind) {
    case "task":
      scheduleOrJump(d, next.task, iteration);
      return;
    case "end":
      return;
    case "branchEnd":
      return branchEnded(d, next.fork, iteration);
    case "loopEnd": {
      const loop = openLoop(d, next.loop);
      if (loop) SYSTEM_TASKS["DO_WHILE"]!.onChildEnded?.(d, loop, task);
      return;
    }
  }
}

/** A fork branch ended: wake the join that follows the fork (in the same loop iteration). */
function branchEnded(d: DecisionContext, forkRef: string, iteration = 0): void {
  const forkNode = d.graph.nodes.get(forkRef);
  const joinRef = forkNode?.list[forkNode.index + 1]?.taskReferenceName ?? forkRef;
  const join = d.latest(iterationRef(joinRef, iteration));
  if (join && !TERMINAL_TASK.has(join.status)) SYSTEM_TASKS[join.type]?.onChildEnded?.(d, join);
}

/** The running instance of the DO_WHILE `ref`. */
function openLoop(d: DecisionContext, ref: string): TaskState | undefined {
  const loop = d.latest(ref);
  return loop && loop.type === "DO_WHILE" && !TERMINAL_TASK.has(loop.status) ? loop : undefined;
}

/** Schedules `wt`, or jumps over it when an operator skipped it in advance. */
export function scheduleOrJump(d: DecisionContext, wt: WorkflowTask, iteration: number): void {
  const ref = iterationRef(wt.taskReferenceName, iteration);
  const existing = d.latest(ref);
  const placeholder = existing?.status === "SKIPPED" && existing.marks.placeholder !== false ? existing : undefined;
  if (placeholder && placeholder.handled && placeholder.marks.jumped !== true) {
    placeholder.marks.jumped = true;
    d.touch(placeholder);
    return proceedAfter(d, placeholder);
  }
  schedule(d, wt, { iteration });
}

/** Creates and starts a task instance for `wt`. */
export function schedule(d: DecisionContext, wt: WorkflowTask, options: NewTaskOptions): TaskState {
  const task = newTask(d, wt, options);
  dispatch(d, task);
  return task;
}

/** Hands a scheduled task to its executor: the queue for workers, or the system task (once its input is known). */
export function dispatch(d: DecisionContext, task: TaskState): void {
  // A name from run data (DYNAMIC, a dynamic fork) is indexed once the task is queued or running; one too long failed every write of the decision.
  const over = charsOverNameLimit(task.defName);
  if (over > 0) {
    d.endTask(
      task,
      "FAILED_WITH_TERMINAL_ERROR",
      `the task's name is ${MAX_NAME_CHARS + over} characters long, over the ${MAX_NAME_CHARS} allowed for a task name`,
    );
    return;
  }
  if (task.marks.awaitingInput) return requestInput(d, task);
  if (isWorkerTask(task.type)) {
    d.effects.push({ kind: "enqueue", task });
    return;
  }
  const system = SYSTEM_TASKS[task.type];
  if (!system) {
    d.endTask(task, "FAILED_WITH_TERMINAL_ERROR", `unknown task type ${task.type}`);
    return;
  }
  // A retry delay or startDelay holds a system task SCHEDULED until a tick starts it.
  if (task.visibleAt > d.now) return;
  system.start(d, task);
}

/** The fields a task instance has whatever its attempt: from the definition, or copied from the attempt it retries. */
type InstanceFields = Pick<
  TaskState,
  | "id"
  | "runId"
  | "seq"
  | "ref"
  | "type"
  | "defName"
  | "iteration"
  | "input"
  | "retryCount"
  | "retriedTaskId"
  | "responseTimeoutSeconds"
  | "timeoutSeconds"
  | "marks"
>;

/**
 * A task instance that has not run yet: scheduled `now`, visible from
 * `visibleAt`. One literal, no spread: a dynamic fork makes thousands of these
 * in one decision, and spreading a part into the rest copied each field by name.
 */
function freshInstance(f: InstanceFields, now: number, visibleAt: number): TaskState {
  return {
    id: f.id,
    runId: f.runId,
    seq: f.seq,
    ref: f.ref,
    type: f.type,
    defName: f.defName,
    status: "SCHEDULED",
    iteration: f.iteration,
    input: f.input,
    output: {},
    reason: "",
    retryCount: f.retryCount,
    retriedTaskId: f.retriedTaskId,
    retried: false,
    handled: false,
    pollCount: 0,
    workerId: "",
    leaseToken: "",
    leaseExpiresAt: 0,
    scheduledAt: now,
    startedAt: 0,
    endedAt: 0,
    updatedAt: now,
    visibleAt,
    callbackAfterSeconds: 0,
    responseTimeoutSeconds: f.responseTimeoutSeconds,
    timeoutSeconds: f.timeoutSeconds,
    subWorkflowId: "",
    rev: 0,
    marks: f.marks,
  };
}

/** A new instance of `wt`, added to the run (not started: see dispatch). */
export function newTask(d: DecisionContext, wt: WorkflowTask, options: NewTaskOptions): TaskState {
  const id = d.newId();
  const taskDef = wt.taskDefinition ?? d.taskDefs.get(wt.name);
  // Undefined: the parameters read a filter, and the task waits for its input from the queries pool (dispatch asks).
  const input = options.input ?? resolveInput(d, wt, taskDef, id);
  const task = freshInstance(
    {
      id,
      runId: d.run.id,
      seq: options.placeholder ? 0 : d.run.nextSeq++,
      ref: iterationRef(wt.taskReferenceName, options.iteration),
      type: wt.type ?? "SIMPLE",
      defName: wt.name,
      iteration: options.iteration,
      input: input ?? {},
      retryCount: 0,
      retriedTaskId: "",
      responseTimeoutSeconds: taskDef?.responseTimeoutSeconds ?? 3600,
      timeoutSeconds: taskDef?.timeoutSeconds ?? 0,
      marks: input === undefined ? { ...options.marks, awaitingInput: true } : (options.marks ?? {}),
    },
    d.now,
    startAt(d.now, wt),
  );
  if (!d.graph.task(wt.taskReferenceName)) task.marks.workflowTask = wt;
  d.addTask(task, options.placeholder ? "first" : "last");
  return task;
}

/** The task's input, or undefined when its parameters read a filter (resolved in the queries pool instead). */
function resolveInput(d: DecisionContext, wt: WorkflowTask, taskDef: TaskDef | undefined, taskId: string): JsonObject | undefined {
  try {
    const resolved = d.resolve(wt.inputParameters ?? {}, taskId);
    const template = taskDef?.inputTemplate;
    return template ? { ...(d.resolve(template, taskId) as JsonObject), ...resolved } : resolved;
  } catch (error) {
    if (error instanceof FilterDeferred) return undefined;
    throw error;
  }
}
