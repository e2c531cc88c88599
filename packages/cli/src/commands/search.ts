// baton search / baton list: runs, newest first or --sort'ed (-o json: Conductor's SearchResult<Workflow>).
import type { Command } from "commander";
import type { ConductorWorkflow, SearchOptions } from "@baton/client";
import { RUN_ORDERS, isRunOrderName } from "@baton/protocol";
import { action } from "../cli/action.js";
import { intArg } from "../cli/context.js";
import { usage } from "../cli/exit.js";
import { duration, table, time } from "../cli/output.js";
import { warnUnregistered } from "../cli/registered.js";
import { RUN_STATUSES, isEnded, runDuration } from "../runs/render.js";

interface SearchFlags {
  name?: string;
  status?: string[];
  correlationId?: string;
  version?: number;
  since?: string;
  until?: string;
  limit: number;
  sort?: string;
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** An ISO time, or a duration back from now: 90s, 15m, 2h, 7d. */
export function parseSince(flag: string, text: string, now = Date.now()): number {
  const rel = /^(\d+(?:\.\d+)?)([smhd])$/.exec(text);
  if (rel) return now - Number(rel[1]) * (UNITS[rel[2] ?? "s"] ?? 1000);
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw usage(`${flag} must be an ISO time (2026-01-31T12:00:00Z) or a duration like 15m, 2h, 7d; not "${text}"`);
  return t;
}

export function searchCommand(program: Command): void {
  program
    .command("search")
    .alias("list")
    .description("list runs, newest first or as --sort says (-o json: Conductor's SearchResult of Workflow)")
    .option("-n, --name <name>", "workflow name")
    .option("-s, --status <status...>", `statuses: ${RUN_STATUSES.join(", ")} (several, or comma-separated)`)
    .option("--correlation-id <id>", "correlation id")
    .option("--version <n>", "with --name: only runs of this version", intArg("--version", 1))
    .option("--since <time>", "started at or after: ISO time or 15m / 2h / 7d ago")
    .option("--until <time>", "started before: ISO time or a duration ago")
    .option("-l, --limit <n>", "at most this many runs", intArg("--limit", 1, 10_000), 20)
    .option("--sort <order>", `order: ${Object.keys(RUN_ORDERS).join(", ")} (ties: start time, then id)`, "start-desc")
    .action(
      action(async (ctx, opts: SearchFlags) => {
        const statuses = (opts.status ?? [])
          .flatMap((s) => s.split(","))
          .map((s) => s.trim().toUpperCase())
          .filter(Boolean);
        for (const s of statuses) {
          if (!(RUN_STATUSES as readonly string[]).includes(s)) throw usage(`unknown status ${s}; one of ${RUN_STATUSES.join(", ")}`);
        }
        const sort = opts.sort ?? "start-desc";
        if (!isRunOrderName(sort)) throw usage(`--sort must be one of ${Object.keys(RUN_ORDERS).join(", ")}; not "${opts.sort}"`);
        const order = RUN_ORDERS[sort];
        const query: SearchOptions = {
          order,
          ...(opts.name !== undefined ? { name: opts.name } : {}),
          ...(statuses.length ? { statuses } : {}),
          ...(opts.correlationId !== undefined ? { correlationId: opts.correlationId } : {}),
          ...(opts.version !== undefined ? { version: opts.version } : {}),
          ...(opts.since !== undefined ? { from: parseSince("--since", opts.since) } : {}),
          ...(opts.until !== undefined ? { to: parseSince("--until", opts.until) } : {}),
        };
        const runs: ConductorWorkflow[] = [];
        let pageToken = "";
        do {
          const page = await ctx.call((c) => c.searchWorkflows({ ...query, pageSize: Math.min(100, opts.limit - runs.length), pageToken }));
          runs.push(...page.workflows);
          pageToken = page.nextPageToken;
        } while (pageToken && runs.length < opts.limit);
        const results = runs.slice(0, opts.limit).map(({ tasks: _tasks, ...run }) => run);
        if (results.length === 0 && opts.name !== undefined) await warnUnregistered(ctx, opts.name);
        ctx.out.emit({ totalHits: results.length, results }, () =>
          results.length === 0
            ? "no runs found"
            : table(
                ["ID", "NAME", "VER", "STATUS", "STARTED", "ENDED", "TIME", "CORRELATION"],
                results.map((r) => [
                  r.workflowId,
                  r.workflowName,
                  String(r.workflowVersion),
                  r.status,
                  time(r.createTime),
                  r.endTime ? time(r.endTime) : "-",
                  isEnded(r.status) ? duration(runDuration({ ...r, tasks: [] })) : "-",
                  r.correlationId ?? "",
                ]),
              ),
        );
      }),
    );
}
