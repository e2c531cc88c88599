// A system task waiting for user code (see evaluation.ts), or any task whose
// input parameters read a JSONPath filter: asked for under a lease, asked
// again when the lease ran out, answered by an `evaluated` event. (A run's
// ending asks too: run-end.ts.)
import { TERMINAL_WORKFLOW, type Json, type JsonObject, type TaskState } from "./model.js";
import type { RunEvent } from "./contract.js";
import type { DecisionContext } from "./decision-context.js";
import type { EvaluationRequest } from "./evaluation.js";
import { evaluationLeaseAt } from "./deadlines.js";
import { endingResolved } from "./run-end.js";
import { SYSTEM_TASKS, isWorkerTask } from "./system-tasks/index.js";

/**
 * Asks for user code to be evaluated for `task` after this decision: the
 * task waits IN_PROGRESS under a lease until its `evaluated` event.
 */
export function requestEvaluation(d: DecisionContext, task: TaskState, request: EvaluationRequest): void {
  if (task.status === "SCHEDULED") {
    task.status = "IN_PROGRESS";
    task.startedAt = d.now;
  }
  task.leaseToken = d.newId();
  task.leaseExpiresAt = evaluationLeaseAt(d.now, request);
  d.touch(task);
  d.effects.push({ kind: "evaluate", task, leaseToken: task.leaseToken, request });
}

/** A loop, or a dynamic fork starting its branches over several events: neither goes on while its run is paused. */
export function goesOnInSteps(task: TaskState): boolean {
  return task.type === "DO_WHILE" || (task.type === "FORK_JOIN_DYNAMIC" && task.marks.continueAt !== undefined);
}

/** Whether a system task waits for an evaluation it asked for. */
export function awaitingEvaluation(task: TaskState): boolean {
  return task.status === "IN_PROGRESS" && task.leaseExpiresAt > 0 && SYSTEM_TASKS[task.type]?.onEvaluated !== undefined && !isWorkerTask(task.type);
}

/** Asks again for an evaluation whose answer never came (its lease ran out, or the run was paused meanwhile). */
export function askAgain(d: DecisionContext, task: TaskState): void {
  const request = SYSTEM_TASKS[task.type]?.evaluation?.(d, task);
  if (request) requestEvaluation(d, task, request);
}

/** Whether a task waits for its input from the queries pool (its parameters read a filter). */
export function awaitingInput(task: TaskState): boolean {
  return task.marks.awaitingInput === true && task.status === "SCHEDULED";
}

/**
 * Asks the queries pool for a task's input: its definition's inputTemplate and
 * its inputParameters (the input is the first under the second, as when
 * resolved in the decision), against a copy of what they read now.
 */
export function requestInput(d: DecisionContext, task: TaskState): void {
  const template: Json = [(d.taskDefOf(task)?.inputTemplate ?? {}) as JsonObject, d.workflowTaskOf(task)?.inputParameters ?? {}];
  const request: EvaluationRequest = { kind: "resolve", template, context: d.snapshot(template), taskId: task.id };
  task.leaseToken = d.newId();
  task.leaseExpiresAt = evaluationLeaseAt(d.now, request);
  d.touch(task);
  d.effects.push({ kind: "evaluate", task, leaseToken: task.leaseToken, request });
}

/** A task's input came: it is handed on as if resolved when it was scheduled. */
function inputResolved(d: DecisionContext, task: TaskState, event: Extract<RunEvent, { kind: "evaluated" }>): void {
  // Late (the task ended or was asked again), or the run ended; a paused run asks again when resumed.
  if (!awaitingInput(task) || task.leaseToken !== event.leaseToken || TERMINAL_WORKFLOW.has(d.run.status) || d.run.status === "PAUSED") {
    d.applied = false;
    return;
  }
  task.leaseToken = "";
  task.leaseExpiresAt = 0;
  const outcome = event.outcome;
  if (!outcome.ok) {
    // The mark stays: a retry of the run asks again.
    d.endTask(task, "FAILED_WITH_TERMINAL_ERROR", `resolving the task's inputParameters failed: ${outcome.message}`);
  } else {
    const [fromTemplate, fromParameters] = outcome.value as [JsonObject, JsonObject];
    task.input = { ...fromTemplate, ...fromParameters };
    delete task.marks.awaitingInput;
    d.touch(task);
    d.dispatch(task);
  }
  d.reconcile();
}

/** The answer to an evaluation: the task it was for goes on, or the run ends (unless the answer is late). */
export function evaluated(d: DecisionContext, event: Extract<RunEvent, { kind: "evaluated" }>): void {
  if (event.taskId === "") return endingResolved(d, event);
  const task = d.book.find(event.taskId);
  if (task?.marks.awaitingInput) return inputResolved(d, task, event);
  // A late answer: the task ended, was asked again (a new lease), or the run ended.
  if (!task || !awaitingEvaluation(task) || task.leaseToken !== event.leaseToken || TERMINAL_WORKFLOW.has(d.run.status)) {
    d.applied = false;
    return;
  }
  // A paused run starts no loop iteration, nor more of a fork's branches: the task asks again when the run resumes.
  if (d.run.status === "PAUSED" && goesOnInSteps(task)) {
    d.applied = false;
    return;
  }
  task.leaseToken = "";
  task.leaseExpiresAt = 0;
  d.touch(task);
  SYSTEM_TASKS[task.type]!.onEvaluated!(d, task, event.outcome);
  d.reconcile();
}
