// What the decider takes and gives: the events a run can receive, the effects
// a decision asks for, its input and its result, and the settings system tasks
// read. The engine and the system tasks program against these; the decider
// implements them.
import type { TaskDef, WorkflowDef } from "@baton/sdk";
import type { EvaluationOutcome, EvaluationRequest } from "./evaluation.js";
import type { Graph } from "./graph.js";
import type { JsonObject, RunState, TaskState, TaskStatus, WorkflowStatus } from "./model.js";
import type { TaskBook } from "./task-book.js";

/** Settings system tasks need, fixed per process. */
export interface SystemTaskServices {
  /** Largest SET_VARIABLE payload, in bytes of JSON. */
  maxVariablesBytes: number;
  /** Largest output a system task may store, in bytes of JSON (the payload limit; 2 MiB when absent). */
  maxOutputBytes?: number;
  /**
   * Whether a SUB_WORKFLOW may run a definition taken from run data (an
   * expression, or a dynamic fork's task list) rather than written in the
   * run's definition: that would let whoever starts runs run any definition.
   * Allowed when absent.
   */
  inlineDefinitionsFromData?: boolean;
}

export type RunEvent =
  | { kind: "start" }
  /** A run queued behind its concurrency key's limit got a slot: it starts now. */
  | { kind: "admit" }
  /**
   * An ended run's retry, restart or rerun, or its child's revival, found its
   * concurrency key at its limit (strategy QUEUE): the run waits, RUNNING
   * with nothing scheduled, and the revival is applied when it is admitted.
   * `revival` is stored with the run (a restart's latest definition is taken now).
   */
  | { kind: "queueRevival"; revival: Extract<RunEvent, { kind: "retry" | "restart" | "rerun" | "childRevived" }>; reason: string }
  | {
      kind: "taskResult";
      taskId: string;
      leaseToken: string;
      status: TaskStatus;
      output: JsonObject;
      reason: string;
      callbackAfterSeconds: number;
      workerId: string;
    }
  | { kind: "tick" }
  | { kind: "pause" }
  | { kind: "resume" }
  | { kind: "terminate"; reason: string }
  | { kind: "retry"; resumeSubworkflowTasks: boolean }
  | { kind: "restart"; useLatest: boolean; def?: { def: WorkflowDef; hash: string; version: number; graph: Graph } }
  | { kind: "rerun"; taskId: string; taskInput?: JsonObject; workflowInput?: JsonObject }
  | { kind: "skip"; ref: string; output: JsonObject }
  | { kind: "signal"; taskId: string; status: TaskStatus; output: JsonObject; reason: string }
  /**
   * `name` and `version` are the child's (absent when it never started). `terminal`: it never started and starting it
   * again cannot help (its tree reached its bound): the task fails FAILED_WITH_TERMINAL_ERROR, not to be retried.
   */
  | {
      kind: "childEnded";
      taskId: string;
      childId: string;
      status: WorkflowStatus;
      output: JsonObject;
      reason: string;
      name?: string;
      version?: number;
      terminal?: boolean;
    }
  /** A child that had ended runs again (it was retried, rerun or restarted). */
  | { kind: "childRevived"; taskId: string; childId: string }
  /** A START_WORKFLOW task's run was started (error empty) or could not be (`terminal`: as childEnded's). */
  | { kind: "runStarted"; taskId: string; childId: string; error: string; terminal?: boolean }
  /**
   * Variables set from outside (an event handler's update_workflow_variables); with appendArray, lists grow instead of
   * being replaced. `once`: the event's action, applied at most once to the run (recorded in its marks, with the
   * records of events since handled, `finished`, dropped).
   */
  | { kind: "updateVariables"; variables: JsonObject; appendArray: boolean; once?: { event: number; action: string; finished: number[] } }
  /** The outcome of an evaluation a task asked for (see evaluation.ts), or the run's ending when `taskId` is empty (run-end.ts); `leaseToken` names the request. */
  | { kind: "evaluated"; taskId: string; leaseToken: string; outcome: EvaluationOutcome };

export type Effect =
  /** A worker task is ready from `task.visibleAt` on. */
  | { kind: "enqueue"; task: TaskState }
  | { kind: "dequeue"; taskId: string }
  /** The run reached a terminal status: wake waiters, tell a parent. */
  | { kind: "runEnded" }
  /** An ended run runs again: tell a parent waiting on it. */
  | { kind: "runRevived" }
  /** Start a child run for a SUB_WORKFLOW / START_WORKFLOW task, or the failure workflow. */
  | { kind: "startRun"; request: StartRunRequest }
  /** Terminate a child run (its parent ended or canceled the task). */
  | { kind: "terminateRun"; runId: string; reason: string }
  /** Retry a failed child run in place (the parent was retried). */
  | { kind: "retryRun"; runId: string; resumeSubworkflowTasks: boolean }
  /** Hand a task to the asynchronous system-task runner (HTTP, EVENT). */
  | { kind: "runAsync"; task: TaskState }
  /** An EVENT task's message on Baton's event bus; `name` is what handlers listen to. */
  | { kind: "publishEvent"; sink: string; name: string; payload: JsonObject }
  /**
   * Evaluate user code for `task` off the serving thread, after commit; answer with an `evaluated` event carrying `leaseToken`.
   * No task: the run's ending asks (its output or failure workflow's name reads a filter).
   */
  | { kind: "evaluate"; task: TaskState | undefined; leaseToken: string; request: EvaluationRequest };

export interface StartRunRequest {
  /** The new run's id, chosen by the decider so the parent can record it. */
  runId: string;
  /** The task that waits for the child (empty for fire-and-forget starts). */
  parentTaskId: string;
  name: string;
  version?: number;
  definition?: WorkflowDef;
  input: JsonObject;
  correlationId: string;
  priority: number;
  /** Whether the new run reports back to this run when it ends. */
  linked: boolean;
  /** Sub-workflow nesting depth of the new run. */
  depth: number;
  /** The root of the tree the new run joins: this run's root, or this run when it is one (see RunMarks.root). */
  root: string;
  /** The root's failure workflow: counted in its tree, never refused for the tree's bound (the bound may be why the root failed). */
  pastTreeBound?: boolean;
  /** START_WORKFLOW: fail this task of the parent when the child cannot be started. */
  failTaskIfMissing?: string;
}

/** The default of a switch that covers every kind: a kind added to the union and left out there fails to compile. */
export function unknownKind(value: never): never {
  throw new Error(`unknown kind ${JSON.stringify((value as { kind?: unknown }).kind)}`);
}

/** A request the run's state does not allow (e.g. restarting a running run). */
export class Refusal extends Error {
  constructor(
    readonly code: "FAILED_PRECONDITION" | "NOT_FOUND" | "INVALID_ARGUMENT",
    message: string,
  ) {
    super(message);
    this.name = "Refusal";
  }
}

export interface DeciderInput {
  def: WorkflowDef;
  graph: Graph;
  run: RunState;
  tasks: TaskState[];
  taskDefs: ReadonlyMap<string, TaskDef>;
  now: number;
  newId: () => string;
  services?: SystemTaskServices;
  /**
   * The caller hands its task objects over (it loaded them for this decision
   * alone): they are changed in place instead of copied, which keeps an event
   * on a run with thousands of tasks cheap. Omit to get copies.
   */
  ownsTasks?: boolean;
  /**
   * The book of the run's last decision, when the caller kept it with these
   * same task objects (a run held in memory, see runtime/run-memory.ts):
   * reused, not rebuilt. Used only when `tasks` is the book's own list.
   */
  book?: TaskBook | undefined;
}

export interface Decision {
  run: RunState;
  tasks: TaskState[];
  /** The index of `tasks`, for the run's next decision (when the caller keeps the tasks). */
  book: TaskBook;
  /** Tasks created or modified by this decision. */
  changed: Set<TaskState>;
  /** Ids of the tasks this decision created (the rest of `changed` the run had before). */
  created: Set<string>;
  /** Ids of tasks removed (restart, rerun). */
  removed: string[];
  effects: Effect[];
  /** False when the event changed nothing (e.g. an update to an ended task). */
  applied: boolean;
}
