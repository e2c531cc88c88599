// baton schedules: list (the default), get, put (JSON files, validated locally
// first), delete, pause, resume, trigger (one run now), backfill (a run per
// fire time in a range), preview (the next fire times). -o json prints the
// server's view of each schedule.
import type { Command } from "commander";
import { validateSchedule } from "@baton/sdk";
import type { ScheduleState } from "@baton/client";
import { action } from "../cli/action.js";
import type { Context } from "../cli/context.js";
import { intArg } from "../cli/context.js";
import { CliError, Exit, usage } from "../cli/exit.js";
import { table, time } from "../cli/output.js";
import { emptyLoad, loadFile } from "../defs/load.js";
import { parseSince } from "./search.js";
import { withGlobalOptions } from "../cli/subcommand.js";

/**
 * An ISO time, "now", or a duration from now: 30d or -30d ago (as --since reads it), +15m ahead. A bare duration is
 * never ahead: `runs purge --before 30d` read as 30 days ahead would remove every ended run.
 */
export function parseTime(flag: string, text: string, now = Date.now()): number {
  if (text === "now") return now;
  const ahead = /^\+(\d+(?:\.\d+)?[smhd])$/.exec(text);
  if (ahead) return 2 * now - parseSince(flag, ahead[1]!, now);
  if (text.startsWith("-")) return parseSince(flag, text.slice(1), now);
  return parseSince(flag, text, now);
}

const when = (ms: number) => (ms > 0 ? time(ms) : "-");

function row(s: ScheduleState): string[] {
  const body = s.schedule;
  const request = (body["startWorkflowRequest"] ?? {}) as Record<string, unknown>;
  const spec = typeof body["cronExpression"] === "string" ? String(body["cronExpression"]) : `every ${String(body["intervalSeconds"])}s`;
  return [
    String(body["name"]),
    String(request["name"]),
    spec + (body["zoneId"] ? ` (${String(body["zoneId"])})` : ""),
    s.paused ? "paused" : "active",
    when(s.nextFireTime),
    when(s.lastFireTime),
    String(body["overlapPolicy"] ?? "ALLOW_ALL"),
  ];
}

function show(ctx: Context, list: ScheduleState[]): void {
  if (ctx.out.json) return ctx.out.value(list);
  if (list.length === 0) return ctx.out.line("no schedules");
  ctx.out.emit(null, () => table(["NAME", "WORKFLOW", "WHEN", "STATE", "NEXT", "LAST", "OVERLAP"], list.map(row)));
}

export function schedulesCommand(program: Command): void {
  const schedules = program
    .command("schedules")
    .description("workflows on a cron expression or an interval: list (default), get, put, delete, pause, resume, trigger, backfill, preview")
    .option("--workflow <name>", "only the schedules of this workflow")
    .action(action(async (ctx, opts: { workflow?: string }) => show(ctx, await ctx.call((c) => c.listSchedules(opts.workflow ?? "")))));

  withGlobalOptions(schedules.command("list").description("list schedules").option("--workflow <name>", "only the schedules of this workflow")).action(
    action(async (ctx, opts: { workflow?: string }) => show(ctx, await ctx.call((c) => c.listSchedules(opts.workflow ?? "")))),
  );

  withGlobalOptions(schedules.command("get").description("one schedule: its JSON and where it stands").argument("<name>", "schedule name")).action(
    action(async (ctx, name: string) => {
      const s = await ctx.call((c) => c.getSchedule(name));
      if (ctx.out.json) return ctx.out.value(s);
      ctx.out.emit(null, () => [
        ...table(["NAME", "WORKFLOW", "WHEN", "STATE", "NEXT", "LAST", "OVERLAP"], [row(s)]),
        `last run: ${s.lastRunId || "-"}   skipped fires: ${s.skippedFires}${s.bufferedFireTime ? `   buffered: ${time(s.bufferedFireTime)}` : ""}`,
        JSON.stringify(s.schedule, null, 2),
      ]);
    }),
  );

  withGlobalOptions(
    schedules
      .command("put")
      .description("create or update schedules from WorkflowSchedule JSON files (validated locally first; nothing is sent when one is invalid)")
      .argument("<files...>", "JSON files, each a schedule or a list of them"),
  ).action(
    action(async (ctx, files: string[]) => {
      const loaded = emptyLoad();
      for (const file of files) loadFile(file, true, loaded);
      const problems = [...loaded.problems];
      // Every object in the files given is taken as a schedule (so its errors are reported), whatever it looks like.
      const items = [...loaded.schedules, ...loaded.workflows, ...loaded.taskDefs, ...loaded.eventHandlers];
      for (const e of items)
        for (const issue of validateSchedule(e.def).errors) problems.push({ file: e.file, path: e.pointer + issue.path, message: issue.message });
      if (problems.length > 0) {
        if (ctx.out.json) ctx.out.value({ ok: false, errors: problems });
        else for (const p of problems) process.stderr.write(`${p.file}: ${p.path || "/"}: ${p.message}\n`);
        throw new CliError(`${problems.length} error${problems.length === 1 ? "" : "s"}; nothing was sent to the server`, Exit.VALIDATION);
      }
      const results: { name: string; source: string; status: "created" | "updated" | "unchanged" }[] = [];
      for (const e of items) {
        const r = await ctx.call((c) => c.updateSchedule(e.def, { allowMissing: true }));
        const status = r.created ? "created" : r.changed ? "updated" : "unchanged";
        results.push({ name: String(e.def["name"]), source: e.source, status });
        if (!ctx.out.json) ctx.out.line(`schedule ${String(e.def["name"])}: ${status}`);
      }
      if (ctx.out.json) ctx.out.value({ ok: true, schedules: results });
    }),
  );

  withGlobalOptions(schedules.command("delete").description("delete a schedule (its runs stay)").argument("<name>", "schedule name")).action(
    action(async (ctx, name: string) => {
      await ctx.call((c) => c.deleteSchedule(name));
      ctx.out.emit({ ok: true, deleted: name }, () => `schedule ${name}: deleted`);
    }),
  );

  for (const verb of ["pause", "resume"] as const) {
    withGlobalOptions(
      schedules
        .command(verb)
        .description(
          verb === "pause" ? "stop firing (runs in flight go on)" : "fire again, from the next fire time after now (times missed while paused are skipped)",
        )
        .argument("<name>", "schedule name"),
    ).action(
      action(async (ctx, name: string) => {
        const s = await ctx.call((c) => (verb === "pause" ? c.pauseSchedule(name) : c.resumeSchedule(name)));
        ctx.out.emit(s, () => `schedule ${name}: ${s.paused ? "paused" : `active, next fire ${when(s.nextFireTime)}`}`);
      }),
    );
  }

  withGlobalOptions(schedules.command("trigger").description("start one run now, whatever the overlap policy").argument("<name>", "schedule name")).action(
    action(async (ctx, name: string) => {
      const r = await ctx.call((c) => c.triggerSchedule(name));
      ctx.out.emit(r, () => `schedule ${name}: started run ${r.runId}`);
    }),
  );

  withGlobalOptions(
    schedules
      .command("backfill")
      .description("start a run for every fire time in [--from, --to) that has none yet (at most 10,000)")
      .argument("<name>", "schedule name")
      .requiredOption("--from <time>", "first instant: ISO time, or a duration ago (7d)")
      .requiredOption("--to <time>", "end (excluded): ISO time, now, or a duration ago (1h)"),
  ).action(
    action(async (ctx, name: string, opts: { from: string; to: string }) => {
      const from = parseTime("--from", opts.from);
      const to = parseTime("--to", opts.to);
      if (to <= from) throw usage("--to must be after --from");
      const r = await ctx.call((c) => c.backfillSchedule(name, from, to));
      ctx.out.emit(
        r,
        () =>
          `schedule ${name}: started ${r.runIds.length} run${r.runIds.length === 1 ? "" : "s"}; ${r.existing} fire time${r.existing === 1 ? "" : "s"} had one already`,
      );
    }),
  );

  withGlobalOptions(
    schedules
      .command("preview")
      .description("the next fire times of a stored schedule, or of a schedule JSON file (not stored)")
      .argument("<name-or-file>", "schedule name, or a .json file")
      .option("-n, --count <n>", "how many (default 10)", intArg("--count", 1, 1000), 10)
      .option("--from <time>", "from this instant: ISO time, a duration ago (2h) or ahead (+7d); default now"),
  ).action(
    action(async (ctx, target: string, opts: { count: number; from?: string }) => {
      let subject: string | object = target;
      if (target.endsWith(".json")) {
        const loaded = emptyLoad();
        loadFile(target, true, loaded);
        const items = [...loaded.schedules, ...loaded.workflows, ...loaded.taskDefs, ...loaded.eventHandlers];
        if (items.length > 1) {
          const names = items.map((e) => String(e.def["name"]));
          throw usage(
            `${target} holds ${items.length} schedules (${names.slice(0, 5).join(", ")}${names.length > 5 ? ", ..." : ""}): preview one at a time, by name once stored (baton schedules put) or from a file of its own`,
          );
        }
        const first = items[0];
        const problems = [
          ...loaded.problems,
          ...(first ? validateSchedule(first.def).errors.map((i) => ({ file: first.file, path: first.pointer + i.path, message: i.message })) : []),
        ];
        if (problems.length > 0 || !first) {
          for (const p of problems) process.stderr.write(`${p.file}: ${p.path || "/"}: ${p.message}\n`);
          throw new CliError(first ? "the schedule is invalid" : `${target} holds no schedule`, Exit.VALIDATION);
        }
        subject = first.def;
      }
      const r = await ctx.call((c) => c.previewSchedule(subject, { count: opts.count, ...(opts.from ? { from: parseTime("--from", opts.from) } : {}) }));
      if (ctx.out.json)
        return ctx.out.value(r.fireTimes.map((t, i) => ({ fireTime: new Date(t).toISOString(), startsAt: new Date(r.dueTimes[i]!).toISOString() })));
      ctx.out.emit(null, () =>
        table(
          ["FIRE TIME", "STARTS AT (JITTER)"],
          r.fireTimes.map((t, i) => [new Date(t).toISOString(), new Date(r.dueTimes[i]!).toISOString()]),
        ),
      );
    }),
  );
}
