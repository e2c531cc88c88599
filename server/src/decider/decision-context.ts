// What the decider's own modules see of a decision in progress: all a system
// task sees (TaskContext) and the decision's inner state. The Decider
// implements it; its modules (flow, timeouts, run end, task and operator
// events, evaluations) take it as an argument instead of importing the
// Decider, so no module imports back up.
import type { TaskDef, WorkflowDef, WorkflowTask } from "@baton/sdk";
import type { Graph } from "./graph.js";
import type { TaskState } from "./model.js";
import type { TaskBook } from "./task-book.js";
import type { TaskContext } from "./task-context.js";

export interface DecisionContext extends TaskContext {
  def: WorkflowDef;
  graph: Graph;
  readonly book: TaskBook;
  /** Tasks created or modified by this decision, and ids of tasks removed. */
  readonly changed: Set<TaskState>;
  readonly removed: string[];
  /** Whether the event being applied changed anything. */
  applied: boolean;
  /** A timer fired: every due time is checked, not only the one the run recorded. */
  readonly tick: boolean;
  /** Starts the run's flow (or leaves it waiting for its concurrency slot). */
  start(): void;
  /** Applies the revival an admitted run held while it waited for its slot (queued-revival.ts). */
  reviveHeld(): void;
  /** Applies timeouts, then acts on every task that ended, until nothing moves. */
  reconcile(): void;
  /** Adds a new task instance to the book and the `${...}` context, after the others (or before them: an operator's placeholder). */
  addTask(task: TaskState, place?: "first" | "last"): void;
  /** A fresh `${...}` context (after a restart or rerun: the run's definition or input may be new). */
  resetResolver(): void;
  taskById(id: string): TaskState;
  latest(ref: string): TaskState | undefined;
  taskDefOf(task: TaskState): TaskDef | undefined;
  schedule(wt: WorkflowTask, options: { iteration: number; input?: TaskState["input"]; marks?: TaskState["marks"] }): TaskState;
}
