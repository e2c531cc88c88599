// The state the decider works on: one run and its task instances. Plain data,
// loaded by the store, changed by the decider, written back by the store.
import type { JsonObject, TaskDef, WorkflowDef } from "@baton/sdk";

export type { Json } from "@baton/json";

export type WorkflowStatus = "RUNNING" | "COMPLETED" | "FAILED" | "TIMED_OUT" | "TERMINATED" | "PAUSED";

export type TaskStatus =
  "SCHEDULED" | "IN_PROGRESS" | "COMPLETED" | "FAILED" | "FAILED_WITH_TERMINAL_ERROR" | "TIMED_OUT" | "CANCELED" | "SKIPPED" | "COMPLETED_WITH_ERRORS";

export const TERMINAL_WORKFLOW: ReadonlySet<WorkflowStatus> = new Set(["COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"]);
export const TERMINAL_TASK: ReadonlySet<TaskStatus> = new Set([
  "COMPLETED",
  "FAILED",
  "FAILED_WITH_TERMINAL_ERROR",
  "TIMED_OUT",
  "CANCELED",
  "SKIPPED",
  "COMPLETED_WITH_ERRORS",
]);
/** Statuses after which the flow goes on past the task. */
export const SUCCESSFUL_TASK: ReadonlySet<TaskStatus> = new Set(["COMPLETED", "SKIPPED", "COMPLETED_WITH_ERRORS"]);

export interface RunState {
  id: string;
  name: string;
  version: number;
  defHash: string;
  status: WorkflowStatus;
  input: JsonObject;
  output: JsonObject;
  variables: JsonObject;
  correlationId: string;
  idempotencyKey: string;
  priority: number;
  reason: string;
  failedRefs: string[];
  failedTaskId: string;
  parentRunId: string;
  parentTaskId: string;
  createdAt: number;
  updatedAt: number;
  endedAt: number;
  /** Next instant a timer of this run is due (0 = none). */
  wakeAt: number;
  /** Sequence number for the next task instance. */
  nextSeq: number;
  /** Decider bookkeeping that has no column of its own. */
  extra: JsonObject;
  /** How a route chose this run's version (absent: the version was named, or no route applied). */
  route?: RouteChoice;
}

/** A route's choice of version for one start. */
export interface RouteChoice {
  /** The route revision that chose. */
  revision: number;
  /** The chosen version's weight in that route, in percent. */
  weight: number;
  /** "weight": drawn by weight; "sticky": the sticky key's version. */
  reason: "weight" | "sticky";
  /** The sticky key's value, when the route is sticky and the start had one. */
  stickyKey?: string;
}

export interface TaskState {
  id: string;
  runId: string;
  seq: number;
  ref: string;
  type: string;
  defName: string;
  status: TaskStatus;
  iteration: number;
  input: JsonObject;
  output: JsonObject;
  reason: string;
  retryCount: number;
  retriedTaskId: string;
  /** A retry of this failed instance exists. */
  retried: boolean;
  /** The decider has acted on this instance's terminal status (Conductor's `executed`, as stored and sent). */
  handled: boolean;
  pollCount: number;
  workerId: string;
  leaseToken: string;
  /** When the running attempt times out unless the worker answers or extends (0 = none). */
  leaseExpiresAt: number;
  scheduledAt: number;
  startedAt: number;
  endedAt: number;
  updatedAt: number;
  /** Not handed to workers before this instant (retry delay, callback). */
  visibleAt: number;
  callbackAfterSeconds: number;
  /** Frozen from the task definition when scheduled. */
  responseTimeoutSeconds: number;
  timeoutSeconds: number;
  subWorkflowId: string;
  /** Row revision, for optimistic writes against concurrent claims. */
  rev: number;
  /** Type-specific state (fork branches, loop counters, ...). */
  extra: JsonObject;
}

export type { JsonObject, TaskDef, WorkflowDef };
