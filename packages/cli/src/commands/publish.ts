// baton publish <paths...>: validate locally, then register task definitions
// and each workflow as a new version only where its content changed.
import type { Command } from "commander";
import { action } from "../cli/action.js";
import type { Context } from "../cli/context.js";
import { CliError, Exit, describeError, grpcCode, type ExitCode } from "../cli/exit.js";
import { grpc } from "@baton/protocol";
import { compileExitCode } from "./compile.js";
import { formatCompileDiagnostic, relative } from "../compiler/diagnostic.js";
import { collect, type Collected } from "../defs/collect.js";
import { planEventHandler, planSchedule, planTaskDef, planWorkflow, type Planned } from "../defs/plan.js";
import type { LoadProblem, Loaded } from "../defs/load.js";
import { intArg } from "../cli/context.js";
import { describeWeights, routeCanary } from "./route.js";

interface PublishOptions {
  dryRun?: boolean;
  exitCode?: boolean;
  canary?: number;
}

const where = (p: LoadProblem) => `${p.file}${p.line !== undefined ? `:${p.line}:${p.column ?? 1}` : ""}`;

export function publishCommand(program: Command): void {
  program
    .command("publish")
    .description("validate and register definitions: a new version only where something changed")
    .argument("<paths...>", "Conductor JSON files (workflows, task definitions, event handlers, schedules), TypeScript flow files, or directories of them")
    .option("--dry-run", "show what would change (diff against the server's latest), register nothing")
    .option("--exit-code", "exit 3 when something changed (with --dry-run: would change)")
    .option(
      "--canary <percent>",
      "route this percent of starts to each newly registered version, the rest to the stable one (overrides a flow's rollout)",
      intArg("--canary", 1, 100),
    )
    .action(
      action(async (ctx, paths: string[], opts: PublishOptions) => {
        const found = await collect(paths);
        for (const file of found.skipped) ctx.out.progress(`skipped ${file}: not a workflow, task definition or event handler`);
        const invalid = report(ctx, found);
        if (invalid !== undefined) return invalid;
        if (found.workflows.length === 0 && found.taskDefs.length === 0 && found.eventHandlers.length === 0 && found.schedules.length === 0) {
          ctx.out.warn(`no definitions found in ${paths.join(", ")}`);
          if (ctx.out.json) ctx.out.value({ ok: true, workflows: [], taskDefs: [] });
          return;
        }
        ctx.out.progress(
          `${opts.dryRun ? "checking" : "publishing"} ${found.workflows.length} workflow${found.workflows.length === 1 ? "" : "s"} and ${found.taskDefs.length} task definition${found.taskDefs.length === 1 ? "" : "s"}${handlerCount(found)} against ${ctx.address}…`,
        );
        const changed = opts.dryRun ? await dryRun(ctx, found) : await register(ctx, found, opts.canary);
        return changed && opts.exitCode ? Exit.CHANGES : Exit.OK;
      }),
    );
}

function handlerCount(found: Collected): string {
  const n = found.eventHandlers.length;
  const s = found.schedules.length;
  return (n === 0 ? "" : ` (and ${n} event handler${n === 1 ? "" : "s"})`) + (s === 0 ? "" : ` (and ${s} schedule${s === 1 ? "" : "s"})`);
}

/** Prints every local problem; returns the exit code when there is one. */
function report(ctx: Context, found: Collected): ExitCode | undefined {
  const compileCode = compileExitCode(found.compileDiagnostics);
  if (found.problems.length === 0 && compileCode === Exit.OK) {
    for (const d of found.compileDiagnostics) process.stderr.write(formatCompileDiagnostic(d) + "\n");
    return undefined;
  }
  const code = compileCode === Exit.ERROR ? Exit.ERROR : Exit.VALIDATION;
  const n = found.problems.length + found.compileDiagnostics.filter((d) => d.severity === "error").length;
  const summary = `${n} error${n === 1 ? "" : "s"}; nothing was sent to the server`;
  if (ctx.out.json) {
    ctx.out.value({
      ok: false,
      errors: found.problems,
      diagnostics: found.compileDiagnostics.map((d) => ({ ...d, ...(d.file ? { file: relative(d.file) } : {}) })),
    });
    // The report is the result; the failure is on stderr as every command's is.
    ctx.out.failure({ message: summary, exitCode: code });
  } else {
    for (const d of found.compileDiagnostics) process.stderr.write(formatCompileDiagnostic(d) + "\n");
    for (const p of found.problems) process.stderr.write(`${where(p)}: ${p.path || "/"}: ${p.message}\n`);
    ctx.out.progress(summary);
  }
  return code;
}

async function dryRun(ctx: Context, found: Collected): Promise<boolean> {
  const plans: Planned[] = [];
  for (const t of found.taskDefs) plans.push(await ctx.call((c) => planTaskDef(c, t)));
  for (const w of found.workflows) plans.push(await ctx.call((c) => planWorkflow(c, w)));
  for (const e of found.eventHandlers) plans.push(await ctx.call((c) => planEventHandler(c, e)));
  for (const s of found.schedules) plans.push(await ctx.call((c) => planSchedule(c, s)));
  const handlers = plans.filter((p) => p.kind === "eventHandler");
  const schedules = plans.filter((p) => p.kind === "schedule");
  if (ctx.out.json) {
    ctx.out.value({
      ok: true,
      dryRun: true,
      workflows: plans.filter((p) => p.kind === "workflow"),
      taskDefs: plans.filter((p) => p.kind === "taskDef"),
      ...(handlers.length > 0 ? { eventHandlers: handlers } : {}),
      ...(schedules.length > 0 ? { schedules } : {}),
    });
  } else {
    for (const p of plans) {
      const label =
        p.kind === "taskDef" ? `task ${p.name}` : p.kind === "eventHandler" ? `handler ${p.name}` : p.kind === "schedule" ? `schedule ${p.name}` : p.name;
      if (p.status === "new") ctx.out.line(`${label}: new`);
      else if (p.status === "unchanged") ctx.out.line(`${label}: unchanged${p.version !== undefined ? ` (version ${p.version})` : ""}`);
      else {
        ctx.out.line(`${label}: changed${p.version !== undefined ? ` (would register version ${p.version + 1})` : ""}`);
        for (const line of p.diff ?? []) ctx.out.line(`  ${line}`);
      }
    }
  }
  return plans.some((p) => p.status !== "unchanged");
}

async function register(ctx: Context, found: Collected, canary: number | undefined): Promise<boolean> {
  let changed = false;
  const taskResults: { name: string; source: string; status: "registered" | "unchanged" }[] = [];
  if (found.taskDefs.length > 0) {
    const response = await ctx.call((c) => c.registerTaskDefs(found.taskDefs.map((t) => t.def)));
    const updated = new Set(response.changed);
    for (const t of found.taskDefs) {
      const name = String(t.def["name"]);
      taskResults.push({ name, source: t.source, status: updated.has(name) ? "registered" : "unchanged" });
      if (updated.has(name)) changed = true;
    }
    if (!ctx.out.json) for (const r of taskResults) if (r.status === "registered") ctx.out.line(`task ${r.name}: registered`);
  }
  const results: { name: string; source: string; status: "registered" | "unchanged"; version: number; route?: string }[] = [];
  for (const w of found.workflows) {
    let response;
    try {
      response = await ctx.baton.registerWorkflowDef(w.def, { nextIfChanged: true });
    } catch (error) {
      if (grpcCode(error) === grpc.status.INVALID_ARGUMENT) {
        const details = (error as { details?: string }).details ?? String(error);
        throw new CliError(
          `${w.source}: the server refused ${String(w.def["name"])}: ${details}`,
          Exit.VALIDATION,
          results.length ? [`already registered in this run: ${results.map((r) => r.name).join(", ")}`] : [],
        );
      }
      throw describeError(error, ctx.address);
    }
    for (const warning of response.warnings) ctx.out.warn(`${response.name}: ${warning.path || "/"}: ${warning.message}`);
    const status = response.changed ? "registered" : "unchanged";
    if (response.changed) changed = true;
    const route = response.changed ? await rollOut(ctx, w, response.name, response.version, canary) : undefined;
    results.push({ name: response.name, source: w.source, status, version: response.version, ...(route ? { route } : {}) });
    if (!ctx.out.json) {
      ctx.out.line(
        response.changed
          ? `${response.name}: registered version ${response.version}${route ? `; route ${route}` : ""}`
          : `${response.name}: unchanged (version ${response.version})`,
      );
    }
  }
  const handlerResults: { name: string; source: string; status: "registered" | "unchanged" }[] = [];
  for (const e of found.eventHandlers) {
    let response;
    try {
      response = await ctx.baton.registerEventHandler(e.def);
    } catch (error) {
      if (grpcCode(error) === grpc.status.INVALID_ARGUMENT) {
        const details = (error as { details?: string }).details ?? String(error);
        throw new CliError(`${e.source}: the server refused event handler ${String(e.def["name"])}: ${details}`, Exit.VALIDATION);
      }
      throw describeError(error, ctx.address);
    }
    for (const warning of response.warnings) ctx.out.warn(`handler ${response.name}: ${warning.path || "/"}: ${warning.message}`);
    if (response.changed) changed = true;
    handlerResults.push({ name: response.name, source: e.source, status: response.changed ? "registered" : "unchanged" });
    if (!ctx.out.json) ctx.out.line(`handler ${response.name}: ${response.changed ? "registered" : "unchanged"}`);
  }
  // Schedules last: they name workflows registered above.
  const scheduleResults: { name: string; source: string; status: "created" | "updated" | "unchanged" }[] = [];
  for (const s of found.schedules) {
    let response;
    try {
      response = await ctx.baton.updateSchedule(s.def, { allowMissing: true });
    } catch (error) {
      if (grpcCode(error) === grpc.status.INVALID_ARGUMENT) {
        const details = (error as { details?: string }).details ?? String(error);
        throw new CliError(`${s.source}: the server refused schedule ${String(s.def["name"])}: ${details}`, Exit.VALIDATION);
      }
      throw describeError(error, ctx.address);
    }
    const status = response.created ? "created" : response.changed ? "updated" : "unchanged";
    if (response.changed) changed = true;
    scheduleResults.push({ name: String(s.def["name"]), source: s.source, status });
    if (!ctx.out.json) ctx.out.line(`schedule ${String(s.def["name"])}: ${status}`);
  }
  if (ctx.out.json) {
    ctx.out.value({
      ok: true,
      workflows: results,
      taskDefs: taskResults,
      ...(handlerResults.length > 0 ? { eventHandlers: handlerResults } : {}),
      ...(scheduleResults.length > 0 ? { schedules: scheduleResults } : {}),
    });
  }
  return changed;
}

/** Routes a canary share to a newly registered version when asked (--canary, or the flow's rollout); the route as text. */
async function rollOut(ctx: Context, w: Loaded, name: string, version: number, canary: number | undefined): Promise<string | undefined> {
  const rollout = w.rollout as
    { canary: number; sticky?: string; guard?: { maxFailureRateIncrease: number; minEndedRuns: number; windowSeconds?: number } } | undefined;
  const percent = canary ?? rollout?.canary;
  if (percent === undefined) return undefined;
  const route = await routeCanary(ctx, name, version, percent, {
    ...(rollout?.sticky ? { sticky: rollout.sticky } : {}),
    ...(rollout?.guard ? { guard: { ...rollout.guard, windowSeconds: rollout.guard.windowSeconds ?? 0 } } : {}),
  });
  if (!route) {
    ctx.out.warn(`${name}: version ${version} is the first: it takes every start, no canary`);
    return undefined;
  }
  return describeWeights(route.weights);
}
