// How a system task moves: what every family does to end, fail or start one.
import { type WorkflowTask } from "@baton/sdk";
import type { TaskContext } from "../task-context.js";
import type { JsonObject, TaskState } from "../model.js";

export function complete(d: TaskContext, task: TaskState, output: JsonObject = task.output): void {
  task.output = output;
  d.endTask(task, "COMPLETED", "");
}

export function fail(d: TaskContext, task: TaskState, reason: string, terminal = false): void {
  d.endTask(task, terminal ? "FAILED_WITH_TERMINAL_ERROR" : "FAILED", reason);
}

export function inProgress(d: TaskContext, task: TaskState): void {
  task.status = "IN_PROGRESS";
  task.startedAt = d.now;
  d.touch(task);
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Ends a task that chose a path itself and schedules that path's first task. */
export function completeAndEnter(d: TaskContext, task: TaskState, first: WorkflowTask | undefined, iteration: number): void {
  d.endTask(task, "COMPLETED", "");
  if (first) {
    task.handled = true;
    d.scheduleOrJump(first, iteration);
  }
}
