// Drives tasks by hand, the way Conductor's own tests do: poll one, answer it.
import type { LeasedTask } from "@baton/protocol";
import { TaskStatus } from "@baton/protocol";
import type { Harness } from "./harness.js";

export async function poll(h: Harness, taskType: string, waitMs = 3000): Promise<LeasedTask | undefined> {
  const { tasks } = await h.client.tasks.poll({ taskType, workerId: "test-worker", count: 1, waitMs: BigInt(waitMs) });
  return tasks[0];
}

export async function mustPoll(h: Harness, taskType: string): Promise<LeasedTask> {
  const task = await poll(h, taskType);
  if (!task) throw new Error(`no ${taskType} task to poll`);
  return task;
}

/**
 * Every task of `taskType` there is to poll now; the first `atLeast` are
 * waited for (up to 5 s each). The rest are polled without waiting: such a
 * poll is answered by its claim however long that takes, where one that waits
 * a while answers nothing if its wait runs out first, as on a busy machine.
 */
export async function pollAll(h: Harness, taskType: string, atLeast = 0): Promise<LeasedTask[]> {
  const got: LeasedTask[] = [];
  for (;;) {
    const task = await poll(h, taskType, got.length < atLeast ? 5000 : 0);
    if (!task) return got;
    got.push(task);
  }
}

export function input(task: LeasedTask): Record<string, unknown> {
  return JSON.parse(task.inputJson || "{}") as Record<string, unknown>;
}

type Outcome = "COMPLETED" | "FAILED" | "FAILED_WITH_TERMINAL_ERROR" | "IN_PROGRESS";

export async function answer(
  h: Harness,
  task: LeasedTask,
  status: Outcome,
  output: object = {},
  options: { reason?: string; callbackAfterSeconds?: number; leaseToken?: string } = {},
): Promise<boolean> {
  const response = await h.client.tasks.updateTask({
    result: {
      taskId: task.taskId,
      leaseToken: options.leaseToken ?? task.leaseToken,
      status: TaskStatus[status],
      outputJson: JSON.stringify(output),
      reasonForIncompletion: options.reason ?? "",
      callbackAfterSeconds: BigInt(options.callbackAfterSeconds ?? 0),
      workerId: "test-worker",
    },
  });
  return response.applied;
}

/** Polls a task of `taskType` and completes it with `output`. */
export async function completeNext(h: Harness, taskType: string, output: object = {}): Promise<LeasedTask> {
  const task = await mustPoll(h, taskType);
  await answer(h, task, "COMPLETED", output);
  return task;
}
