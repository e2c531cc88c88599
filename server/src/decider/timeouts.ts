// What is due in a run: acting on the times that passed (timeouts, a task
// held back until now, a wait or an evaluation lease that ran out, the run's
// ending's included), and the run's next wake time, when a timer must look at
// it again.
import { TERMINAL_TASK, TERMINAL_WORKFLOW } from "./model.js";
import type { DecisionContext } from "./decision-context.js";
import { pollTimeoutAt, runTimeoutAt, taskTimeoutAt } from "./deadlines.js";
import { askAgain, awaitingEvaluation, awaitingInput, requestInput } from "./evaluation-lease.js";
import { askEndingAgain, endRun, recordFailedRef } from "./run-end.js";
import { SYSTEM_TASKS, isWorkerTask } from "./system-tasks/index.js";

/** Ends what timed out, starts what is due and ticks the system tasks that wait on time. */
export function checkTimeouts(d: DecisionContext): void {
  const now = d.now;
  const run = d.run;
  // Its tasks all ended, the run waits for its output: only the lease of that is due, not the run's timeout.
  const ending = run.marks.ending;
  if (ending) {
    if (now >= ending.leaseExpiresAt) askEndingAgain(d);
    return;
  }
  const runTimeout = runTimeoutAt(d.def, run);
  if (runTimeout !== undefined && now >= runTimeout) {
    endRun(d, "TIMED_OUT", `Workflow timed out after ${d.def.timeoutSeconds} seconds (timeoutPolicy TIME_OUT_WF)`);
    return;
  }
  if (run.status === "PAUSED") return;
  // Nothing is due before the run's recorded wake time: other events skip the scan of every open task
  // (a timer's tick always scans: a lease taken by a claim since the last decision is not in wakeAt).
  if (!d.tick && (run.wakeAt === 0 || now < run.wakeAt)) return;
  for (const task of [...d.tasks]) {
    if (TERMINAL_TASK.has(task.status)) continue;
    if (awaitingInput(task)) {
      if (now >= task.leaseExpiresAt) requestInput(d, task);
      continue;
    }
    const taskDef = d.taskDefOf(task);
    const timeoutAt = taskTimeoutAt(task);
    const timedOut = task.status === "IN_PROGRESS" && timeoutAt !== undefined && now >= timeoutAt;
    if (timedOut && (isWorkerTask(task.type) || (taskDef?.timeoutPolicy ?? "TIME_OUT_WF") !== "ALERT_ONLY")) {
      // The task definition's timeoutSeconds holds for system tasks too (a WAIT, a HUMAN, a child run).
      const policy = taskDef?.timeoutPolicy ?? "TIME_OUT_WF";
      if (policy === "ALERT_ONLY") continue;
      d.endTask(task, "TIMED_OUT", `Task timed out after ${task.timeoutSeconds} seconds (timeoutPolicy ${policy})`);
      if (isWorkerTask(task.type)) d.effects.push({ kind: "dequeue", taskId: task.id });
      if (task.subWorkflowId) d.effects.push({ kind: "terminateRun", runId: task.subWorkflowId, reason: `task ${task.ref} of the parent timed out` });
      if (policy === "TIME_OUT_WF") {
        task.handled = true;
        recordFailedRef(run, task.ref);
        run.failedTaskId = task.id;
        endRun(d, "TIMED_OUT", `Task ${task.id} timed out after ${task.timeoutSeconds} seconds`);
        return;
      }
    } else if (task.status === "IN_PROGRESS" && isWorkerTask(task.type)) {
      if (task.leaseExpiresAt > 0 && now >= task.leaseExpiresAt) {
        d.endTask(task, "TIMED_OUT", `responseTimeout: no update from the worker for ${task.responseTimeoutSeconds} seconds`);
      }
    } else if (task.status === "SCHEDULED" && isWorkerTask(task.type)) {
      const pollTimeout = pollTimeoutAt(task, taskDef);
      if (pollTimeout !== undefined && now >= pollTimeout) {
        d.endTask(task, "TIMED_OUT", `pollTimeout: not polled within ${taskDef?.pollTimeoutSeconds} seconds`);
        d.effects.push({ kind: "dequeue", taskId: task.id });
      }
    } else if (task.status === "SCHEDULED" && !isWorkerTask(task.type)) {
      if (task.visibleAt <= now) SYSTEM_TASKS[task.type]?.start(d, task);
    } else if (awaitingEvaluation(task)) {
      if (now >= task.leaseExpiresAt) askAgain(d, task);
    } else {
      SYSTEM_TASKS[task.type]?.onTick?.(d, task);
    }
  }
}

/** When a timer must next look at the run (0: never). */
export function nextWake(d: DecisionContext): number {
  const run = d.run;
  if (TERMINAL_WORKFLOW.has(run.status)) return 0;
  if (run.marks.ending) return run.marks.ending.leaseExpiresAt;
  let wake = runTimeoutAt(d.def, run) ?? Infinity;
  if (run.status === "RUNNING") {
    for (const task of d.tasks) {
      if (TERMINAL_TASK.has(task.status)) continue;
      if (awaitingInput(task)) {
        if (task.leaseExpiresAt > 0) wake = Math.min(wake, task.leaseExpiresAt);
      } else if (task.status === "SCHEDULED" && isWorkerTask(task.type)) {
        const poll = pollTimeoutAt(task, d.taskDefOf(task));
        if (poll !== undefined) wake = Math.min(wake, poll);
      } else if (task.status === "IN_PROGRESS" && isWorkerTask(task.type)) {
        // A leased task is found by the sweeper through the lease index, as
        // one a claim took is; its lease never outlasts its timeout. Left out
        // of the wake time, which then stays put from step to step, so the
        // run's row is updated in place (HOT) instead of in every index.
        const timeoutAt = task.leaseExpiresAt === 0 ? taskTimeoutAt(task) : undefined;
        if (timeoutAt !== undefined) wake = Math.min(wake, timeoutAt);
      } else if (task.status === "SCHEDULED") {
        wake = Math.min(wake, task.visibleAt);
      } else {
        const timeoutAt = taskTimeoutAt(task);
        if (timeoutAt !== undefined) wake = Math.min(wake, timeoutAt);
        if (awaitingEvaluation(task)) wake = Math.min(wake, task.leaseExpiresAt);
        const due = SYSTEM_TASKS[task.type]?.dueAt?.(d, task);
        if (due) wake = Math.min(wake, due);
      }
    }
  }
  return Number.isFinite(wake) ? wake : 0;
}
