// baton runs purge: remove ended runs (with their tasks and logs) that ended
// before a time, for operators; --dry-run counts them. Runs not ended are
// never removed. It removes for good, so it says how many and asks first; with
// nobody to ask (no terminal) it refuses unless given --yes.
import { Command, Option } from "commander";
import { action } from "../cli/action.js";
import { canAsk, confirm } from "../cli/confirm.js";
import { CliError, Exit, usage } from "../cli/exit.js";
import { time } from "../cli/output.js";
import { warnUnregistered } from "../cli/registered.js";
import { parseTime } from "./schedules.js";

export function runsCommand(program: Command): void {
  const runs = program.command("runs").description("operations on many runs at once: purge");
  runs
    .command("purge")
    .description("remove ended runs that ended before --before (with their tasks and logs); running and paused runs stay")
    .requiredOption("--before <time>", "ended before: ISO time, or a duration ago (30d)")
    .option("--workflow <name>", "only the runs of this workflow")
    .option("--dry-run", "count what would be removed, remove nothing")
    .option("-y, --yes", "remove without asking (needed where there is no terminal to ask on: CI, scripts)")
    .addOption(new Option("-o, --output <format>", "result format: text or json (default: text)").choices(["text", "json"]))
    .addOption(new Option("--address <host:port>", "Baton server address (env: BATON_ADDRESS, default 127.0.0.1:7233)"))
    .addOption(new Option("--token <token>", "bearer token sent to the server (env: BATON_TOKEN)"))
    .addOption(new Option("--token-file <file>", "read the bearer token from a file, - for stdin (keeps it out of the process list)"))
    .action(
      action(async (ctx, opts: { before: string; workflow?: string; dryRun?: boolean; yes?: boolean }) => {
        const before = parseTime("--before", opts.before);
        const which = opts.workflow ? { workflow: opts.workflow } : {};
        const of = opts.workflow ? ` of ${opts.workflow}` : "";
        const asking = opts.dryRun !== true && opts.yes !== true;
        if (asking && !canAsk())
          throw usage(
            `runs purge removes runs for good and asks first, but there is no terminal to ask on: add --yes to remove the runs${of} that ended before ${time(before)}, or --dry-run to count them`,
          );
        // The count asked about is a dry run's; the purge then removes what has ended before the same time.
        let r = await ctx.call((c) => c.purgeRuns(before, { ...which, dryRun: asking || opts.dryRun === true }));
        if (asking && r.runs > 0) {
          const yes = await confirm(
            `remove ${r.runs} ended run${r.runs === 1 ? "" : "s"}${of} (${r.tasks} task${r.tasks === 1 ? "" : "s"}) that ended before ${time(before)}, for good? [y/N] `,
          );
          if (!yes) throw new CliError("not confirmed: nothing removed", Exit.ERROR);
          r = await ctx.call((c) => c.purgeRuns(before, which));
        }
        if (r.runs === 0 && opts.workflow) await warnUnregistered(ctx, opts.workflow, "; a removed workflow's runs are purged by its name all the same");
        ctx.out.emit(
          { ...r, before: new Date(before).toISOString(), dryRun: opts.dryRun === true },
          () =>
            `${opts.dryRun ? "would remove" : "removed"} ${r.runs} run${r.runs === 1 ? "" : "s"} (${r.tasks} task${r.tasks === 1 ? "" : "s"}) ended before ${time(before)}${of}; oldest ended run left: ${r.oldestEndedTime ? time(r.oldestEndedTime) : "none"}`,
        );
      }),
    );
}
