// baton rerun <id> --task <ref>: runs an ended run again from one task, dropping what came after it.
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { jsonObjectArg } from "../cli/context.js";
import { operate } from "../runs/operate.js";

interface RerunOptions {
  task: string;
  taskInput?: string;
  workflowInput?: string;
}

export function rerunCommand(program: Command): void {
  program
    .command("rerun")
    .description("run an ended run again from a task (what came after it is dropped)")
    .argument("<id>", "run id")
    .requiredOption("-t, --task <ref>", "task reference name (or task id) to rerun from")
    .option("--task-input <json|@file>", "replace that task's input")
    .option("--workflow-input <json|@file>", "replace the run's input")
    .action(
      action(async (ctx, id: string, opts: RerunOptions) => {
        const taskInput = opts.taskInput !== undefined ? jsonObjectArg("--task-input", opts.taskInput) : undefined;
        const workflowInput = opts.workflowInput !== undefined ? jsonObjectArg("--workflow-input", opts.workflowInput) : undefined;
        const from = /^[0-9a-f]{8}-[0-9a-f]{4}-/i.test(opts.task) ? { taskId: opts.task } : { taskReferenceName: opts.task };
        return operate(ctx, id, `rerunning from ${opts.task}:`, (c) =>
          c.rerunWorkflow(id, from, { ...(taskInput ? { taskInput } : {}), ...(workflowInput ? { workflowInput } : {}) }),
        );
      }),
    );
}
