// Every instant the decider sets or checks, from one rule: a deadline is a
// base instant plus a number of seconds, and a zero or absent number of
// seconds means no deadline. Timeouts (a task's timeoutSeconds from its start,
// a worker's responseTimeoutSeconds lease, pollTimeoutSeconds from when it
// could be polled, the run's timeoutSeconds from its start or last retry) and
// wake times (WAIT's until or duration, callbackAfterSeconds, a retry's delay,
// startDelay, an evaluation's lease, an HTTP call's lease) are all computed
// here; the worker lease is rules/lease.ts's, shared with the SQL of claims.
import type { TaskDef, WorkflowDef, WorkflowTask } from "@baton/sdk";
import { leaseDeadline } from "../rules/lease.js";
import { CONTINUE_LEASE_MS, EVALUATION_LEASE_MS, type EvaluationRequest } from "./evaluation.js";
import type { JsonObject, RunState, TaskState } from "./model.js";
import { retryDelaySeconds } from "./retry.js";
import { parseDuration, parseUntil } from "./time.js";

/** `seconds` after `base`. */
export function secondsAfter(base: number, seconds: number): number {
  return base + seconds * 1000;
}

/** `seconds` after `base`, or undefined when there is no such deadline (no seconds, or no base yet). */
function deadline(base: number, seconds: number): number | undefined {
  return seconds > 0 && base > 0 ? secondsAfter(base, seconds) : undefined;
}

/** When a running task times out (timeoutSeconds from its start); undefined: it does not. */
export function taskTimeoutAt(task: TaskState): number | undefined {
  return deadline(task.startedAt, task.timeoutSeconds);
}

/** When a worker task nobody polled times out (pollTimeoutSeconds from when it could be polled). */
export function pollTimeoutAt(task: TaskState, taskDef: TaskDef | undefined): number | undefined {
  const seconds = taskDef?.pollTimeoutSeconds ?? 0;
  return seconds > 0 ? secondsAfter(task.visibleAt, seconds) : undefined;
}

/** When the run times out: timeoutSeconds from its start or its last retry, under the TIME_OUT_WF policy only. */
export function runTimeoutAt(def: WorkflowDef, run: RunState): number | undefined {
  const seconds = def.timeoutSeconds ?? 0;
  if (seconds <= 0 || (def.timeoutPolicy ?? "ALERT_ONLY") !== "TIME_OUT_WF") return undefined;
  return secondsAfter(Math.max(run.createdAt, run.marks.lastRetriedAt ?? 0), seconds);
}

/** When a worker must be heard from again: its response timeout from now, never past the task's own timeout. */
export function workerLeaseAt(now: number, task: TaskState): number {
  return leaseDeadline({ now, startedAt: task.startedAt, leaseSeconds: task.responseTimeoutSeconds, timeoutSeconds: task.timeoutSeconds });
}

/**
 * When an HTTP call the server makes is taken to be lost (its process died):
 * the response timeout from now, at least a second. Not capped by the task's
 * timeout, which is checked on its own (timeouts.ts).
 */
export function httpCallLeaseAt(now: number, task: TaskState): number {
  return secondsAfter(now, Math.max(task.responseTimeoutSeconds, 1));
}

/** When an evaluation asked for now is taken to be lost, and asked for again. */
export function evaluationLeaseAt(now: number, request: EvaluationRequest): number {
  return now + (request.kind === "continue" ? CONTINUE_LEASE_MS : EVALUATION_LEASE_MS);
}

/** When a task a worker put back (IN_PROGRESS with callbackAfterSeconds) is handed out again. */
export function callbackAt(now: number, callbackAfterSeconds: number): number {
  return secondsAfter(now, callbackAfterSeconds);
}

/** When a new task may start: after its startDelay. */
export function startAt(now: number, wt: WorkflowTask): number {
  return secondsAfter(now, wt.startDelay ?? 0);
}

/** When a retry may start: after the task definition's retry delay when it counts as a retry, else at once. */
export function retryAt(now: number, def: TaskDef | undefined, retryCount: number, countsAsRetry: boolean): number {
  return secondsAfter(now, countsAsRetry && def ? retryDelaySeconds(def, retryCount) : 0);
}

/** When a WAIT started now ends: its duration from now, or its until time; undefined: it waits for a signal. Throws on an unreadable one. */
export function waitEndsAt(now: number, input: JsonObject): number | undefined {
  const duration = input["duration"];
  const until = input["until"];
  if (typeof duration === "string" && duration) return now + parseDuration(duration);
  if (typeof until === "string" && until) return parseUntil(until);
  return undefined;
}
