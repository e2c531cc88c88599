// baton pause <id>: no new tasks are scheduled until resume; running ones finish.
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { operate } from "../runs/operate.js";

export function pauseCommand(program: Command): void {
  program
    .command("pause")
    .description("pause a run: nothing new is scheduled until `baton resume`")
    .argument("<id>", "run id")
    .action(action(async (ctx, id: string) => operate(ctx, id, "paused", (c) => c.pauseWorkflow(id))));
}
