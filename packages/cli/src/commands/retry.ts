// baton retry <id>: a FAILED / TIMED_OUT / TERMINATED run continues from its failed task.
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { operate } from "../runs/operate.js";

export function retryCommand(program: Command): void {
  program
    .command("retry")
    .description("retry a failed, timed-out or terminated run from its failed task")
    .argument("<id>", "run id")
    .option("--resume-subworkflow-tasks", "retry inside failed sub-workflows instead of restarting them")
    .action(
      action(async (ctx, id: string, opts: { resumeSubworkflowTasks?: boolean }) =>
        operate(ctx, id, "retried", (c) => c.retryWorkflow(id, { resumeSubworkflowTasks: opts.resumeSubworkflowTasks ?? false })),
      ),
    );
}
