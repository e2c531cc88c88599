// baton terminate <id>: ends a run now (TERMINATED); retry or restart can bring it back.
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { operate } from "../runs/operate.js";

export function terminateCommand(program: Command): void {
  program
    .command("terminate")
    .description("terminate a run (it can still be retried or restarted)")
    .argument("<id>", "run id")
    .option("-r, --reason <text>", "why, kept as the run's reasonForIncompletion")
    .action(
      action(async (ctx, id: string, opts: { reason?: string }) =>
        operate(ctx, id, "terminated", (c) => c.terminateWorkflow(id, opts.reason ?? "terminated with baton terminate")),
      ),
    );
}
