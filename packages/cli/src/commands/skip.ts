// baton skip <id> --task <ref>: marks a task of a running run SKIPPED.
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { jsonObjectArg } from "../cli/context.js";
import { operate } from "../runs/operate.js";

export function skipCommand(program: Command): void {
  program
    .command("skip")
    .description("skip a task of a running run (scheduled or not yet reached)")
    .argument("<id>", "run id")
    .requiredOption("-t, --task <ref>", "task reference name")
    .option("--output <json|@file>", "output to give the skipped task")
    .action(
      action(async (ctx, id: string, opts: { task: string; output?: string }) => {
        const output = opts.output !== undefined ? jsonObjectArg("--output", opts.output) : {};
        return operate(ctx, id, `skipped ${opts.task} in`, (c) => c.skipTask(id, opts.task, output));
      }),
    );
}
