// baton resume <id>: undoes pause.
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { operate } from "../runs/operate.js";

export function resumeCommand(program: Command): void {
  program
    .command("resume")
    .description("resume a paused run")
    .argument("<id>", "run id")
    .action(action(async (ctx, id: string) => operate(ctx, id, "resumed", (c) => c.resumeWorkflow(id))));
}
