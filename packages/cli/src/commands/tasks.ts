// baton tasks: queue depth per task type (what workers have waiting for them).
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { table } from "../cli/output.js";

export function tasksCommand(program: Command): void {
  program
    .command("tasks")
    .description("queue depths per task type: ready, delayed (retry/callback), in progress")
    .action(
      action(async (ctx) => {
        const queues = (await ctx.call((c) => c.queues())).sort((a, b) => a.taskType.localeCompare(b.taskType));
        ctx.out.emit(queues, () =>
          queues.length === 0
            ? "no task queues"
            : table(
                ["TASK TYPE", "READY", "DELAYED", "IN PROGRESS"],
                queues.map((q) => [q.taskType, String(q.ready), String(q.delayed), String(q.inProgress)]),
              ),
        );
      }),
    );
}
