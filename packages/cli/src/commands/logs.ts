// baton logs <id> [--task <ref>]: the log lines tasks wrote (a worker's
// `task.log(...)`, Conductor's AddTaskLog), every attempt, oldest first.
import type { Command } from "commander";
import type { ConductorTask } from "@baton/client";
import { action } from "../cli/action.js";
import { CliError } from "../cli/exit.js";
import { time } from "../cli/output.js";

interface TaskLogs {
  taskId: string;
  referenceTaskName: string;
  retryCount: number;
  iteration: number;
  logs: { message: string; createdTime: number }[];
}

export function logsCommand(program: Command): void {
  program
    .command("logs")
    .description("the log lines a run's tasks wrote (task.log / AddTaskLog), every attempt")
    .argument("<id>", "run id")
    .option("-t, --task <ref>", "only this task (every attempt and loop iteration of it)")
    .action(
      action(async (ctx, id: string, opts: { task?: string }) => {
        const run = await ctx.call((c) => c.getWorkflow(id));
        const tasks = [...run.tasks].sort((a, b) => a.seq - b.seq);
        const chosen = opts.task ? tasks.filter((t) => t.referenceTaskName === opts.task) : tasks;
        if (opts.task && chosen.length === 0) {
          const refs = [...new Set(tasks.map((t) => t.referenceTaskName))];
          throw new CliError(`run ${id} has no task ${opts.task}${refs.length ? `; its tasks: ${refs.join(", ")}` : " (it has no tasks yet)"}`);
        }
        const result: TaskLogs[] = [];
        for (const t of chosen) {
          const logs: TaskLogs["logs"] = [];
          // The server answers a page at a time.
          let pageToken = "";
          do {
            const response = await ctx.call((c) => c.tasks.getTaskLogs({ taskId: t.taskId, pageToken }));
            for (const l of response.logs) logs.push({ message: l.message, createdTime: Number(l.createdTimeMs) });
            pageToken = response.nextPageToken;
          } while (pageToken !== "");
          result.push({ ...identity(t), logs });
        }
        ctx.out.emit(result, () => {
          const lines = result.flatMap((t) => t.logs.map((l) => `${time(l.createdTime)}  ${label(t)}  ${l.message}`));
          return lines.length ? lines : [`(no log lines${opts.task ? ` for ${opts.task}` : ""} in run ${id})`];
        });
      }),
    );
}

function identity(t: ConductorTask): Omit<TaskLogs, "logs"> {
  return { taskId: t.taskId, referenceTaskName: t.referenceTaskName, retryCount: t.retryCount, iteration: t.iteration };
}

/** `charge`, `charge (retry 1)`, `charge (iteration 2)`. */
function label(t: Omit<TaskLogs, "logs">): string {
  const extra = [t.iteration > 0 ? `iteration ${t.iteration}` : "", t.retryCount > 0 ? `retry ${t.retryCount}` : ""].filter(Boolean);
  return extra.length ? `${t.referenceTaskName} (${extra.join(", ")})` : t.referenceTaskName;
}
