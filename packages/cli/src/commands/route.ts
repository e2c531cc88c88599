// baton route: which version a start without a version gets — get, set
// (weights, sticky key, guard), promote, rollback, delete, history, and status
// (health per version). Every change is checked by the server and refused
// whole, naming the field.
import type { Command } from "commander";
import type { RouteGuardView, RouteView, RouteWeightView } from "@baton/client";
import { action } from "../cli/action.js";
import type { Context } from "../cli/context.js";
import { intArg } from "../cli/context.js";
import { usage } from "../cli/exit.js";
import { duration, table, time } from "../cli/output.js";
import { warnUnregistered } from "../cli/registered.js";
import { withGlobalOptions } from "../cli/subcommand.js";

/** `3=90 4=10` (also `v3=90`, `3:90`) into weights. */
export function parseWeights(words: readonly string[]): RouteWeightView[] {
  return words.map((word) => {
    const m = /^v?(\d+)[=:](\d+)%?$/.exec(word.trim());
    if (!m) throw usage(`"${word}" is not VERSION=PERCENT (e.g. 3=90 4=10)`);
    return { version: Number(m[1]), weight: Number(m[2]) };
  });
}

export function describeWeights(weights: readonly RouteWeightView[]): string {
  return weights.map((w) => `v${w.version}=${w.weight}%`).join(" ");
}

function describeRoute(route: RouteView): string[] {
  const lines = [`route ${route.workflowName} (revision ${route.revision}): ${describeWeights(route.weights)}; stable version ${route.stableVersion}`];
  if (route.sticky) lines.push(`sticky by ${route.sticky}`);
  if (route.guard) {
    const g = route.guard;
    lines.push(
      `guard: roll back when a canary fails ${g.maxFailureRateIncrease} points more than the stable version over ${g.minEndedRuns}+ ended runs` +
        (g.windowSeconds > 0 ? ` (last ${g.windowSeconds} s)` : " (since the route was set)"),
    );
  }
  lines.push(`changed ${time(route.updateTime)} by ${route.updatedBy || "-"}`);
  return lines;
}

interface SetOptions {
  sticky?: string;
  guardMargin?: number;
  guardMinRuns?: number;
  guardWindow?: number;
  expectRevision?: number;
  note?: string;
}

export function routeCommand(program: Command): void {
  const route = program
    .command("route")
    .description("route starts without a version over a workflow's versions: get, set, promote, rollback, delete, history, status");

  withGlobalOptions(route.command("get").description("print a workflow's route").argument("<name>", "workflow name")).action(
    action(async (ctx, name: string) => {
      const found = await ctx.call((c) => c.getRoute(name));
      if (!found) {
        await warnUnregistered(ctx, name);
        ctx.out.emit({ workflowName: name, route: null }, () => `${name} has no route: starts without a version get the latest version`);
        return;
      }
      ctx.out.emit(found, () => describeRoute(found));
    }),
  );

  withGlobalOptions(
    route
      .command("set")
      .description("replace a workflow's route, e.g. `baton route set orders 3=90 4=10 --sticky '${workflow.input.customerId}'`")
      .argument("<name>", "workflow name")
      .argument("<weights...>", "VERSION=PERCENT pairs summing to 100")
      .option("--sticky <expression>", "keep each key on its version: ${workflow.input.<field>} or ${workflow.correlationId}")
      .option("--guard-margin <points>", "roll back when a canary's failure rate exceeds the stable version's by more than this many percentage points", Number)
      .option("--guard-min-runs <n>", "... over at least this many ended canary runs (default 20)", intArg("--guard-min-runs", 1))
      .option("--guard-window <seconds>", "... started in this many seconds (default: since the route was set)", intArg("--guard-window", 0))
      .option("--expect-revision <n>", "refuse unless the route is still at this revision", intArg("--expect-revision", 1))
      .option("--note <text>", "why, kept in the history"),
  ).action(
    action(async (ctx, name: string, words: string[], opts: SetOptions) => {
      const weights = parseWeights(words);
      if ((opts.guardMinRuns !== undefined || opts.guardWindow !== undefined) && opts.guardMargin === undefined) {
        throw usage("--guard-min-runs and --guard-window need --guard-margin");
      }
      const guard =
        opts.guardMargin !== undefined
          ? { maxFailureRateIncrease: opts.guardMargin, minEndedRuns: opts.guardMinRuns ?? 20, windowSeconds: opts.guardWindow ?? 0 }
          : undefined;
      const result = await ctx.call((c) =>
        c.setRoute(name, {
          weights,
          ...(opts.sticky ? { sticky: opts.sticky } : {}),
          ...(guard ? { guard } : {}),
          ...(opts.expectRevision ? { expectedRevision: opts.expectRevision } : {}),
          ...(opts.note ? { note: opts.note } : {}),
        }),
      );
      ctx.out.emit(result, () => (result.changed ? describeRoute(result.route) : [`route ${name}: unchanged (revision ${result.route.revision})`]));
    }),
  );

  withGlobalOptions(
    route
      .command("promote")
      .description("send every start to one version of the route")
      .argument("<name>", "workflow name")
      .argument("<version>", "version", intArg("<version>", 1))
      .option("--note <text>", "why, kept in the history"),
  ).action(
    action(async (ctx, name: string, version: number, opts: { note?: string }) => {
      const promoted = await ctx.call((c) => c.promoteRoute(name, version, opts.note ?? ""));
      ctx.out.emit(promoted, () => describeRoute(promoted));
    }),
  );

  withGlobalOptions(
    route
      .command("rollback")
      .description("send every start back to the stable version (the one before the canary, or before the last promotion)")
      .argument("<name>", "workflow name")
      .option("--note <text>", "why, kept in the history"),
  ).action(
    action(async (ctx, name: string, opts: { note?: string }) => {
      const rolled = await ctx.call((c) => c.rollbackRoute(name, opts.note ?? ""));
      ctx.out.emit(rolled, () => describeRoute(rolled));
    }),
  );

  withGlobalOptions(
    route.command("delete").description("remove a route: starts without a version get the latest again").argument("<name>", "workflow name"),
  ).action(
    action(async (ctx, name: string) => {
      await ctx.call((c) => c.deleteRoute(name));
      ctx.out.emit({ ok: true, deleted: name }, () => `route ${name}: deleted`);
    }),
  );

  withGlobalOptions(
    route
      .command("history")
      .description("every change of a route, newest first")
      .argument("<name>", "workflow name")
      .option("--limit <n>", "at most this many", intArg("--limit", 1, 1000), 50),
  ).action(
    action(async (ctx, name: string, opts: { limit: number }) => {
      const changes = await ctx.call((c) => c.routeHistory(name, opts.limit));
      ctx.out.emit(changes, () =>
        changes.length === 0
          ? `${name}: no route changes`
          : table(
              ["REV", "TIME", "ACTION", "BY", "WEIGHTS", "NOTE"],
              changes.map((h) => [String(h.revision), time(h.time), h.action, h.actor, describeWeights(h.weights) || "-", h.note]),
            ),
      );
    }),
  );

  withGlobalOptions(
    route
      .command("status")
      .description("health per version: runs started, ended by status, failure rate, duration p50/p99")
      .argument("<name>", "workflow name")
      .option("--window <seconds>", "runs started in the last this many seconds", intArg("--window", 1), 3600),
  ).action(
    action(async (ctx, name: string, opts: { window: number }) => {
      const status = await ctx.call((c) => c.routeStatus(name, opts.window));
      if (!status.route && status.versions.length === 0) await warnUnregistered(ctx, name);
      ctx.out.emit(status, () => [
        ...(status.route ? describeRoute(status.route).slice(0, 1) : [`${name} has no route`]),
        ...table(
          ["VERSION", "WEIGHT", "STARTED", "RUNNING", "COMPLETED", "FAILED", "TIMED OUT", "TERMINATED", "FAILURE RATE", "P50", "P99"],
          status.versions.map((v) => [
            `v${v.version}`,
            `${v.weight}%`,
            String(v.started),
            String(v.running),
            String(v.completed),
            String(v.failed),
            String(v.timedOut),
            String(v.terminated),
            `${(v.failureRate * 100).toFixed(1)}%`,
            v.durationP50Ms ? duration(v.durationP50Ms) : "-",
            v.durationP99Ms ? duration(v.durationP99Ms) : "-",
          ]),
        ),
      ]);
    }),
  );
}

/** Registers the route a canary publish asks for: `percent` to `version`, the rest to the stable version. */
export async function routeCanary(
  ctx: Context,
  name: string,
  version: number,
  percent: number,
  declared: { sticky?: string; guard?: RouteGuardView } = {},
): Promise<RouteView | undefined> {
  const current = await ctx.call((c) => c.getRoute(name));
  const stable = current?.stableVersion ?? (await previousVersion(ctx, name, version));
  if (stable === undefined) return undefined;
  const weights =
    percent >= 100
      ? [{ version, weight: 100 }]
      : [
          { version: stable, weight: 100 - percent },
          { version, weight: percent },
        ];
  const sticky = declared.sticky ?? current?.sticky;
  const guard = declared.guard ?? current?.guard;
  const result = await ctx.call((c) =>
    c.setRoute(name, {
      weights,
      ...(sticky ? { sticky } : {}),
      ...(guard ? { guard } : {}),
      note: `publish --canary ${percent}`,
    }),
  );
  return result.route;
}

async function previousVersion(ctx: Context, name: string, version: number): Promise<number | undefined> {
  for (let v = version - 1; v >= 1; v--) {
    try {
      await ctx.call((c) => c.getWorkflowDef(name, v));
      return v;
    } catch {
      // not registered: look further back
    }
  }
  return undefined;
}
