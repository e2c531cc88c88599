// The contract between the decider and the system tasks: the hooks each task
// type implements, the settings they read, and which types go to workers.
import { isWorkerTaskType } from "@baton/sdk";
import type { TaskContext } from "../task-context.js";
import type { EvaluationOutcome, EvaluationRequest } from "../evaluation.js";
import type { TaskState } from "../model.js";

export type { SystemTaskServices } from "../contract.js";

export interface SystemTask {
  start(d: TaskContext, task: TaskState): void;
  /** A task this one waits on ended (a join's branch, a loop's body). */
  onChildEnded?(d: TaskContext, task: TaskState, child?: TaskState): void;
  onTick?(d: TaskContext, task: TaskState): void;
  /** When this task next needs a tick. */
  dueAt?(d: TaskContext, task: TaskState): number | undefined;
  /** A retried run reopens this task instead of copying it. */
  reopen?: boolean;
  /** The evaluation this task waits for, asked again when its lease ran out. */
  evaluation?(d: TaskContext, task: TaskState): EvaluationRequest | undefined;
  /** The answer to the evaluation this task asked for. */
  onEvaluated?(d: TaskContext, task: TaskState, outcome: EvaluationOutcome): void;
}

/** Worker tasks are handed to workers: SIMPLE, and any type Conductor does not define (the SDK's one list). */
export const isWorkerTask = isWorkerTaskType;
