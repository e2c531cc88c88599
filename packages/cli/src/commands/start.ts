// baton start <name>: starts a run; with --wait, waits for it and prints its output.
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { intArg, jsonObjectArg, secondsArg } from "../cli/context.js";
import { CliError, Exit } from "../cli/exit.js";
import { duration } from "../cli/output.js";
import { headline, runDuration } from "../runs/render.js";
import { waitForEnd } from "../runs/wait.js";
import { runConsoleLink } from "../cli/console-link.js";
import { unservedNotice, unservedTaskTypes } from "../runs/unserved.js";

interface StartOptions {
  version?: number;
  input?: string;
  correlationId?: string;
  idempotencyKey?: string;
  priority?: number;
  wait?: boolean;
  timeout?: number;
}

export function startCommand(program: Command): void {
  program
    .command("start")
    .description("start a run of a registered workflow; prints its id (with --wait: its status and output)")
    .argument("<name>", "workflow name")
    .option("--version <n>", "definition version (default: latest)", intArg("--version", 1))
    .option("-i, --input <json|@file>", "run input: a JSON object, @file.json, or @- for stdin")
    .option("--correlation-id <id>", "correlation id")
    .option("--idempotency-key <key>", "starting twice with the same key runs once (returns the first run's id)")
    .option("--priority <n>", "priority 0-99", intArg("--priority", 0, 99))
    .option("-w, --wait", "wait for the run to end; exit 1 unless it COMPLETED")
    .option("--timeout <seconds>", "with --wait: give up after this long (default: wait until it ends)", secondsArg("--timeout"))
    .action(
      action(async (ctx, name: string, opts: StartOptions) => {
        const input = opts.input !== undefined ? jsonObjectArg("--input", opts.input) : {};
        const id = await ctx
          .call((c) =>
            c.startWorkflow(name, input, {
              ...(opts.version !== undefined ? { version: opts.version } : {}),
              ...(opts.correlationId !== undefined ? { correlationId: opts.correlationId } : {}),
              ...(opts.idempotencyKey !== undefined ? { idempotencyKey: opts.idempotencyKey } : {}),
              ...(opts.priority !== undefined ? { priority: opts.priority } : {}),
            }),
          )
          .catch((error: unknown) => {
            // Say where the registered ones are and how one gets there.
            if (error instanceof CliError && error.message.startsWith("not found: no workflow definition"))
              throw new CliError(`${error.message}: \`baton defs\` lists the registered workflows, \`baton publish\` registers one`);
            throw error;
          });
        if (!opts.wait) {
          ctx.out.emit({ workflowId: id }, () => id);
          ctx.out.progress(`console: ${runConsoleLink(ctx.address, id)}`);
          return;
        }
        ctx.out.progress(
          `started ${id} (console: ${runConsoleLink(ctx.address, id)}); waiting${opts.timeout !== undefined ? ` up to ${opts.timeout} s` : ""}…`,
        );
        const run = await ctx.call((c) =>
          waitForEnd(c, id, opts.timeout !== undefined ? opts.timeout * 1000 : undefined, async (now) => {
            const types = await unservedTaskTypes(c, now).catch(() => []);
            if (types.length > 0) ctx.out.warn(unservedNotice(types));
          }),
        );
        ctx.out.emit(run, () => [headline(run), JSON.stringify(run.output, null, 2)]);
        if (run.status === "COMPLETED") return;
        if (run.status === "RUNNING" || run.status === "PAUSED") {
          ctx.out.error(`run ${id} is still ${run.status} after ${duration(runDuration(run))}`);
        } else {
          ctx.out.error(`run ${id} ended ${run.status}${run.reasonForIncompletion ? `: ${run.reasonForIncompletion}` : ""}`);
        }
        return Exit.ERROR;
      }),
    );
}
