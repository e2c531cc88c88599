// baton get <id>: a run's summary and task table (-o json: Conductor's Workflow).
// --watch refreshes until the run ends.
import type { Command } from "commander";
import type { ConductorWorkflow } from "@baton/client";
import { action } from "../cli/action.js";
import { secondsArg, type Context } from "../cli/context.js";
import { Exit } from "../cli/exit.js";
import { time } from "../cli/output.js";
import { isEnded, runReport } from "../runs/render.js";
import { runConsoleLink } from "../cli/console-link.js";
import { unservedNotice, unservedTaskTypes } from "../runs/unserved.js";

interface GetOptions {
  watch?: boolean;
  interval: number;
}

export function getCommand(program: Command): void {
  program
    .command("get")
    .description("show a run: summary and tasks (-o json: Conductor's Workflow)")
    .argument("<id>", "run (workflow) id")
    .option("-w, --watch", "refresh until the run ends; exit 1 unless it COMPLETED")
    .option("--interval <seconds>", "with --watch: refresh period", secondsArg("--interval"), 1)
    .action(
      action(async (ctx, id: string, opts: GetOptions) => {
        if (!opts.watch) {
          const run = await ctx.call((c) => c.getWorkflow(id));
          ctx.out.emit(run, () => [...runReport(run), "", `console: ${runConsoleLink(ctx.address, run.workflowId)}`]);
          const types = await ctx.call((c) => unservedTaskTypes(c, run)).catch(() => []);
          if (types.length > 0) ctx.out.warn(unservedNotice(types));
          return;
        }
        const run = await watch(ctx, id, Math.max(0.1, opts.interval) * 1000);
        if (ctx.out.json) ctx.out.value(run);
        return run.status === "COMPLETED" ? Exit.OK : Exit.ERROR;
      }),
    );
}

async function watch(ctx: Context, id: string, intervalMs: number): Promise<ConductorWorkflow> {
  const tty = !ctx.out.json && process.stdout.isTTY === true;
  const seen = new Map<string, string>();
  let last = "";
  let lastStatus = "";
  for (;;) {
    const run = await ctx.call((c) => c.getWorkflow(id));
    if (tty) {
      const screen = runReport(run).join("\n");
      if (screen !== last) process.stdout.write(`\x1b[2J\x1b[H${screen}\n`);
      last = screen;
    } else if (!ctx.out.json) {
      // Not a terminal: one line per change, then the full report at the end.
      for (const t of [...run.tasks].sort((a, b) => a.seq - b.seq)) {
        const key = `${t.taskId}`;
        if (seen.get(key) === t.status) continue;
        seen.set(key, t.status);
        ctx.out.line(`${time(t.updateTime || Date.now())}  ${t.referenceTaskName}  ${t.status}`);
      }
      if (seen.get("") !== run.status) {
        seen.set("", run.status);
        ctx.out.line(`${time(run.updateTime || Date.now())}  run ${run.status}`);
      }
    }
    if (isEnded(run.status)) {
      if (!tty && !ctx.out.json) ctx.out.line(["", ...runReport(run)].join("\n"));
      return run;
    }
    if (ctx.out.json && run.status !== lastStatus) {
      lastStatus = run.status;
      ctx.out.progress(`${id} ${run.status}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
