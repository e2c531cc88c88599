// Events that move one task from outside the decision: a worker's result,
// and a child run's start, end or revival. A late or repeated one changes
// nothing; one the task's state does not allow is refused.
import { Refusal, type RunEvent } from "./contract.js";
import type { DecisionContext } from "./decision-context.js";
import { TERMINAL_TASK, TERMINAL_WORKFLOW, type TaskStatus } from "./model.js";
import { reopen, reopenFailed, revive } from "./operator-events.js";
import * as queuedRevival from "./queued-revival.js";
import { endRun, recordFailedRef } from "./run-end.js";
import { callbackAt, workerLeaseAt } from "./deadlines.js";

export function taskResult(d: DecisionContext, event: Extract<RunEvent, { kind: "taskResult" }>): void {
  const task = d.taskById(event.taskId);
  if (TERMINAL_TASK.has(task.status)) {
    d.applied = false;
    return;
  }
  if (task.status !== "IN_PROGRESS" || task.leaseToken !== event.leaseToken) {
    throw new Refusal("FAILED_PRECONDITION", `stale lease for task ${task.id}: the task was handed to another worker or put back (status ${task.status})`);
  }
  if (!["IN_PROGRESS", "COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR"].includes(event.status)) {
    throw new Refusal("INVALID_ARGUMENT", `a worker cannot set status ${event.status}; use IN_PROGRESS, COMPLETED, FAILED or FAILED_WITH_TERMINAL_ERROR`);
  }
  if (event.workerId) task.workerId = event.workerId;
  task.output = event.output;
  task.updatedAt = d.now;
  switch (event.status) {
    case "IN_PROGRESS":
      if (event.callbackAfterSeconds > 0) {
        task.status = "SCHEDULED";
        task.callbackAfterSeconds = event.callbackAfterSeconds;
        task.visibleAt = callbackAt(d.now, event.callbackAfterSeconds);
        task.leaseToken = "";
        task.leaseExpiresAt = 0;
        d.effects.push({ kind: "enqueue", task });
      } else {
        task.leaseExpiresAt = workerLeaseAt(d.now, task);
      }
      break;
    case "COMPLETED":
    case "FAILED":
    case "FAILED_WITH_TERMINAL_ERROR":
      d.endTask(task, event.status, event.reason);
      break;
  }
  d.touch(task);
  d.reconcile();
}

/** A START_WORKFLOW task's run was started, or could not be. */
export function runStarted(d: DecisionContext, event: Extract<RunEvent, { kind: "runStarted" }>): void {
  const task = d.book.find(event.taskId);
  if (!task || TERMINAL_TASK.has(task.status) || task.output["workflowId"] !== event.childId) {
    d.applied = false;
    return;
  }
  if (event.error) d.endTask(task, event.terminal ? "FAILED_WITH_TERMINAL_ERROR" : "FAILED", event.error);
  else d.endTask(task, "COMPLETED", "");
  d.reconcile();
}

/** A child that had ended runs again (retried, rerun, restarted): its task, and this run, wait for it again. */
export function childRevived(d: DecisionContext, event: Extract<RunEvent, { kind: "childRevived" }>): void {
  // This run waits for its key's slot to run again for this child: its end kept meanwhile no longer stands.
  if (!TERMINAL_WORKFLOW.has(d.run.status) && queuedRevival.childRunsAgain(d.run, event)) return;
  const task = d.book.find(event.taskId);
  if (!task || task.subWorkflowId !== event.childId || !TERMINAL_TASK.has(task.status) || d.latest(task.ref) !== task) {
    d.applied = false;
    return;
  }
  reopen(d, task);
  if (TERMINAL_WORKFLOW.has(d.run.status)) {
    reopenFailed(d, false, task);
    revive(d);
  }
  d.reconcile();
}

export function childEnded(d: DecisionContext, event: Extract<RunEvent, { kind: "childEnded" }>): void {
  // This run waits for its key's slot to run again for this child: the end is applied once it does.
  if (!TERMINAL_WORKFLOW.has(d.run.status) && queuedRevival.keepChildEnded(d.run, event)) return;
  const task = d.taskById(event.taskId);
  if (TERMINAL_TASK.has(task.status) || task.subWorkflowId !== event.childId) {
    d.applied = false;
    return;
  }
  task.output = { ...task.output, ...event.output };
  if (event.status === "COMPLETED") d.endTask(task, "COMPLETED", "");
  else {
    const status: TaskStatus =
      event.status === "TIMED_OUT" ? "TIMED_OUT" : event.status === "TERMINATED" ? "CANCELED" : event.terminal ? "FAILED_WITH_TERMINAL_ERROR" : "FAILED";
    // Conductor's wording, which the run's reason and a failure workflow's `reason` then carry.
    const reason = event.name ? `Sub workflow ${event.name}.${event.version ?? 1}/${event.childId} failure reason: ${event.reason}` : event.reason;
    d.endTask(task, status, reason || `sub-workflow ${event.childId} ended ${event.status}`);
    if (event.status === "TERMINATED") {
      // A child terminated from outside takes its parent with it (Conductor).
      task.handled = true;
      recordFailedRef(d.run, task.ref);
      endRun(d, "TERMINATED", event.reason || `sub-workflow ${event.childId} was terminated`);
      return;
    }
  }
  d.reconcile();
}
