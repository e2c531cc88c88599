// baton restart <id>: an ended run starts again from the beginning, same id.
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { operate } from "../runs/operate.js";

export function restartCommand(program: Command): void {
  program
    .command("restart")
    .description("start an ended run again from the beginning (same id)")
    .argument("<id>", "run id")
    .option("--latest", "use the latest version of the definition instead of the run's own")
    .action(
      action(async (ctx, id: string, opts: { latest?: boolean }) =>
        operate(ctx, id, "restarted", (c) => c.restartWorkflow(id, { useLatestDefinition: opts.latest ?? false })),
      ),
    );
}
