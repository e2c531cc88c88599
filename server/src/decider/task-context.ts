// What a system task sees of the decision it runs in: the run, its tasks, and
// the few ways a task may move the flow. The decider implements it; system
// tasks import this, not the decider, so the two do not import each other.
import type { TaskDef, WorkflowTask } from "@baton/sdk";
import type { Effect, SystemTaskServices } from "./contract.js";
import type { EvaluationRequest } from "./evaluation.js";
import type { Graph } from "./graph.js";
import type { Json, JsonObject, RunState, TaskMarks, TaskState, TaskStatus, WorkflowStatus } from "./model.js";

export interface TaskContext {
  readonly now: number;
  readonly run: RunState;
  readonly graph: Graph;
  readonly tasks: readonly TaskState[];
  readonly taskDefs: ReadonlyMap<string, TaskDef>;
  readonly services: SystemTaskServices | undefined;
  readonly effects: Effect[];
  newId(): string;
  workflowTaskOf(task: TaskState): WorkflowTask | undefined;
  defRef(task: TaskState): string;
  latestByRef(): ReadonlyMap<string, TaskState>;
  tasksOfIteration(n: number): readonly TaskState[];
  /** Resolves `${...}`; throws FilterDeferred (expressions/resolve.ts) at a path with a filter: ask for a `resolve` evaluation instead. */
  resolve(template: JsonObject, taskId?: string): JsonObject;
  resolveValue(value: unknown, taskId?: string): Json;
  /** The context entries a template reads, as JSON: what a `resolve` evaluation is sent. */
  snapshot(template: unknown): { [name: string]: Json };
  newTask(wt: WorkflowTask, options: { iteration: number; input?: JsonObject; marks?: TaskMarks }): TaskState;
  dispatch(task: TaskState): void;
  scheduleOrJump(wt: WorkflowTask, iteration: number): void;
  endTask(task: TaskState, status: TaskStatus, reason: string): void;
  touch(task: TaskState): void;
  ownOutput(task: TaskState): JsonObject;
  spendIteration(): boolean;
  /** Tasks this decision may still create before a dynamic fork leaves the rest of its branches to the next event (TASK_BUDGET). */
  tasksLeft(): number;
  requestEvaluation(task: TaskState, request: EvaluationRequest): void;
  endRun(status: WorkflowStatus, reason: string, output?: JsonObject): void;
}
