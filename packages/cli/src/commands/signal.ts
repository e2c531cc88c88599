// baton signal <id> --task <ref>: completes (or fails) a task that waits for the outside.
import type { Command } from "commander";
import { Option } from "commander";
import { action } from "../cli/action.js";
import { jsonObjectArg } from "../cli/context.js";
import { operate } from "../runs/operate.js";

type SignalStatus = "COMPLETED" | "FAILED" | "FAILED_WITH_TERMINAL_ERROR";

interface SignalOptions {
  task: string;
  status: SignalStatus;
  output?: string;
  reason?: string;
}

export function signalCommand(program: Command): void {
  program
    .command("signal")
    .description("complete or fail a task waiting for the outside (WAIT, HUMAN, or any unfinished task)")
    .argument("<id>", "run id")
    .requiredOption("-t, --task <ref>", "task reference name (or task id)")
    .addOption(new Option("--status <status>", "the task's new status").choices(["COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR"]).default("COMPLETED"))
    .option("--output <json|@file>", "the task's output")
    .option("-r, --reason <text>", "reason, for a failure")
    .action(
      action(async (ctx, id: string, opts: SignalOptions) => {
        const output = opts.output !== undefined ? jsonObjectArg("--output", opts.output) : {};
        const task = /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(opts.task) ? { taskId: opts.task } : { taskReferenceName: opts.task };
        return operate(ctx, id, `signalled ${opts.task} ${opts.status} in`, (c) =>
          c.signalTask(id, task, { status: opts.status, output, ...(opts.reason !== undefined ? { reason: opts.reason } : {}) }),
        );
      }),
    );
}
