// The state the decider works on: one run and its task instances. Plain data,
// loaded by the store, changed by the decider, written back by the store.
import type { JsonObject, TaskDef, WorkflowDef, WorkflowTask } from "@baton/sdk";

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

/** Whether the flow goes no further: the run ended, or waits for its output to end (run-end.ts). */
export function endedOrEnding(run: RunState): boolean {
  return TERMINAL_WORKFLOW.has(run.status) || run.marks.ending !== undefined;
}

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
  /** Marks the run carries that have no column of their own (stored as the JSON column `extra`). */
  marks: RunMarks;
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
  /** Marks of a task type or of the flow (stored as the JSON column `extra`). */
  marks: TaskMarks;
}

/**
 * What is known of a run beyond its columns. Each mark is optional and
 * stored under its own name in the run's `extra` JSON column (SQL reads
 * fairKey, fairWeight and concurrencyKey there), so rows written before the
 * marks were typed load as they are.
 */
export interface RunMarks {
  /** Sub-workflow nesting depth (absent: a top-level run). */
  depth?: number;
  /**
   * The root of the run's tree: the run a caller started whose SUB_WORKFLOW,
   * START_WORKFLOW and failure-workflow starts (and theirs) started this one.
   * Absent: the run is a root. A tree starts at most so many runs (store/run-trees.ts).
   */
  root?: string;
  /** The fair-share key the run was started with, and its weight when not 1 (fairness/key.ts; the fair claim reads them). */
  fairKey?: string;
  fairWeight?: number;
  /**
   * The key and weight of the run that started this one (when it had a key): the run's key when its own workflow
   * names none. Kept apart so that a restart, which starts the marks afresh, keys the run as its start did.
   */
  inheritedFair?: { key: string; weight: number };
  /**
   * The event handler actions applied to the run (update_workflow_variables), by event id and `<handler>#<index>`:
   * an event taken again after its consumer died is not applied twice (an append would append twice). A record goes
   * once its event has left the bus (at the run's next such update), so these are at most the actions of events
   * still waiting, and of those handled since the last update.
   */
  eventActions?: { event: number; action: string }[];
  /** The concurrency key whose slot the run holds (concurrency/admission.ts; a trigger frees the slot when the run ends). */
  concurrencyKey?: string;
  /** Over its key's limit: waiting for a slot, or refused (ended at once). */
  admission?: "queued" | "refused";
  /** An ended run's retry, restart, rerun or child's revival waiting for its key's slot, and how the run had ended (queued-revival.ts). */
  revival?: HeldRevival;
  /** The first permissive task that failed: the run fails for it once every task has ended. */
  permissiveFailure?: { taskId: string; ref: string; status: string; reason: string };
  /** When the run was last retried: its timeout counts from then (Conductor's lastRetriedTime). */
  lastRetriedAt?: number;
  /** The failure workflow was started for this ending. */
  failureWorkflowStarted?: boolean;
  /** The run is ending and its open tasks are being canceled (within one decision only). */
  canceling?: boolean;
  /**
   * The run has ended in all but name: its output or its failure workflow's
   * name reads a JSONPath filter, resolved in the queries pool, and it keeps
   * its status (RUNNING) until the answer comes (run-end.ts).
   */
  ending?: PendingEnding;
}

/** How a run ends once what it waits for from the queries pool is known, and the lease it is asked for under. */
export interface PendingEnding {
  status: WorkflowStatus;
  reason: string;
  /** The run's output, once known (given, resolved here, or answered). */
  output?: JsonObject;
  /** The failure workflow's name, once known ("" for none). */
  failureWorkflow?: string;
  leaseToken: string;
  /** When any replica asks again (the process that asked died). */
  leaseExpiresAt: number;
}

/** A revival held while its run waits for a slot; the event's other fields are queued-revival.ts's to read. */
export interface HeldRevival {
  event: { kind: "retry" | "restart" | "rerun" | "childRevived" };
  status: WorkflowStatus;
  reason: string;
  endedAt: number;
  failedTaskId: string;
}

/** What a task type or the flow records on a task instance (stored in its `extra` JSON column, as RunMarks are). */
export interface TaskMarks {
  /** A dynamic fork's JOIN: the references it waits on. */
  joinOn?: string[];
  /** A task a dynamic fork started: the fork's reference name (its end wakes the fork's join). */
  dynamicJoin?: string;
  /** A DO_WHILE: the iteration of the loop around it (its own `iteration` counts its own iterations). */
  outerIteration?: number;
  /**
   * A DO_WHILE whose decision ran out of iterations: the iteration it starts in
   * the next event. A FORK_JOIN_DYNAMIC whose decision ran out of tasks: the
   * place in its list of the branch it starts next.
   */
  continueAt?: number;
  /** A WAIT: when it ends (absent: it waits for a signal). */
  waitUntil?: number;
  /** The task as it runs, when the definition does not hold it (a dynamic fork's branch, a DYNAMIC's named task). */
  workflowTask?: WorkflowTask;
  /** An operator's SKIPPED placeholder that the flow has jumped over. */
  jumped?: boolean;
  /** false: a SKIPPED task that is no operator's placeholder (absent: it is one). */
  placeholder?: boolean;
  /**
   * Its input parameters read a JSONPath filter: it waits SCHEDULED, under a
   * lease, for the queries pool's answer before it is handed on (flow.ts).
   * Kept when that fails, so that a retry asks again.
   */
  awaitingInput?: boolean;
}

export type { JsonObject, TaskDef, WorkflowDef };
