// The report: a table on stdout, report.json, and chart.svg (hand-written bars).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { HEADLINES, SCENARIOS, SYSTEMS, type ScenarioName, type ScenarioResult, type SystemName } from "./types.js";
import { round } from "./util.js";

export interface Report {
  startedAt: string;
  finishedAt: string;
  mode: "quick" | "full";
  machine: Record<string, unknown>;
  postgres: Record<string, string>;
  options: Record<string, unknown>;
  results: ScenarioResult[];
  /** Baton's figure over each peer's, oriented so that > 1 means Baton is ahead. */
  ratios: { scenario: ScenarioName; metric: string; peer: SystemName; batonAhead: number }[];
  notes: string[];
}

export function find(results: ScenarioResult[], scenario: ScenarioName, system: SystemName): ScenarioResult | undefined {
  return results.find((r) => r.scenario === scenario && r.system === system);
}

export function computeRatios(results: ScenarioResult[]): Report["ratios"] {
  const out: Report["ratios"] = [];
  for (const scenario of SCENARIOS) {
    const baton = find(results, scenario, "baton");
    if (!baton) continue;
    for (const h of HEADLINES[scenario]) {
      const b = baton.metrics[h.metric];
      if (b === undefined || !Number.isFinite(b)) continue;
      for (const peer of SYSTEMS) {
        if (peer === "baton") continue;
        const peerResult = find(results, scenario, peer);
        const p = peerResult?.metrics[h.metric];
        // Memory is only comparable at the same number of waiting runs.
        if (scenario === "memory" && peerResult?.metrics["waitingRuns"] !== baton.metrics["waitingRuns"]) continue;
        if (p === undefined || !Number.isFinite(p) || p === 0 || b === 0) continue;
        out.push({ scenario, metric: h.metric, peer, batonAhead: round(h.better === "higher" ? b / p : p / b, 2) });
      }
    }
  }
  return out;
}

const fmt = (n: number | undefined): string => {
  if (n === undefined || !Number.isFinite(n)) return "-";
  if (Math.abs(n) >= 100) return Math.round(n).toLocaleString("en");
  if (Math.abs(n) >= 10) return n.toFixed(1);
  return n.toFixed(2);
};

function cell(r: ScenarioResult | undefined, metric: string): string {
  if (!r) return "";
  const v = r.metrics[metric];
  if (v !== undefined && Number.isFinite(v)) return fmt(v) + (r.status === "partial" ? "*" : "");
  if (r.status === "not applicable") return "n/a";
  if (r.status === "ok") return "-";
  return r.status === "failed" ? "FAILED" : r.status === "partial" ? "partial*" : "not run";
}

/** The table, as lines of text (also pasted into issues). */
export function renderTable(report: Report): string {
  const peers = SYSTEMS.filter((s) => s !== "baton" && report.results.some((r) => r.system === s));
  const header = ["scenario / metric", "baton", ...peers, ...peers.map((p) => `vs ${p}`)];
  const rows: string[][] = [];
  for (const scenario of SCENARIOS) {
    const results = SYSTEMS.map((s) => find(report.results, scenario, s));
    if (!results.some(Boolean)) continue;
    for (const h of HEADLINES[scenario]) {
      const row = [`${scenario}: ${h.label} (${h.unit}, ${h.better} is better)`, cell(find(report.results, scenario, "baton"), h.metric)];
      for (const p of peers) row.push(cell(find(report.results, scenario, p), h.metric));
      for (const p of peers) {
        const ratio = report.ratios.find((x) => x.scenario === scenario && x.metric === h.metric && x.peer === p);
        row.push(ratio ? `${ratio.batonAhead.toFixed(2)}x` : "");
      }
      rows.push(row);
    }
    const extra = extraLines(find(report.results, scenario, "baton"));
    // Every peer's CPU split beside Baton's.
    for (const p of peers) {
      const r = find(report.results, scenario, p);
      if ((scenario === "throughput" || scenario === "replicas") && r?.details?.["cpu"]) extra.push(cpuLine(r));
      // Peers hold fewer waiting runs in the full mode: say how many.
      if (scenario === "memory" && r && r.metrics["waitingRuns"] !== undefined) extra.push(...extraLines(r));
    }
    for (const line of extra) rows.push([`  ${line}`, "", ...peers.map(() => ""), ...peers.map(() => "")]);
  }
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join(" | ");
  const out = [line(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...rows.map(line)];
  const reasons = report.results.filter((r) => r.reason);
  if (reasons.length) {
    out.push("", "Not run, failed or partial (*):");
    for (const r of reasons) out.push(`  ${r.system} ${r.scenario}: ${r.status}: ${r.reason!.replace(/\s+/g, " ").slice(0, 400)}`);
  }
  const earlier = new Map<string, string[]>();
  for (const r of report.results) {
    const run = r.details?.["fromRun"] as string | undefined;
    if (run) earlier.set(run, [...(earlier.get(run) ?? []), `${r.system} ${r.scenario}`]);
  }
  for (const [run, which] of earlier) out.push("", `Kept (--merge) from the run started ${run}: ${which.join(", ")}.`);
  out.push("", "vs <peer>: Baton's figure over the peer's, oriented so that above 1x means Baton is ahead.");
  return out.join("\n");
}

function extraLines(r: ScenarioResult | undefined): string[] {
  if (!r || r.status === "failed" || r.status === "not run") return [];
  const m = r.metrics;
  const d = (r.details ?? {}) as Record<string, unknown>;
  switch (r.scenario) {
    case "throughput":
    case "replicas":
      return [cpuLine(r)];
    case "dispatch":
      return [`baton: result -> next task held (worker clock): p50 ${fmt(m["resultToNextP50Ms"])} ms, p99 ${fmt(m["resultToNextP99Ms"])} ms`];
    case "fanout":
      return m["timeRatio"] !== undefined ? [`baton: large/small time ${fmt(m["timeRatio"])}x for ${fmt(m["sizeRatio"])}x the branches (linear = equal)`] : [];
    case "backlog":
      return [
        `baton: empty database p50 ${fmt(m["emptyP50Ms"])} / p99 ${fmt(m["emptyP99Ms"])} ms; with backlog ${fmt(m["p50Ratio"])}x / ${fmt(m["p99Ratio"])}x of that`,
      ];
    case "memory":
      return [`${r.system}: ${fmt(m["waitingRuns"])} waiting runs; idle server ${fmt(m["baselineRssMb"])} MB, peak ${fmt(m["peakRssMb"])} MB`];
    case "polyglot": {
      const rows = (d["rows"] ?? []) as { worker: string; tasksPerSecond: number; dispatchP50Ms: number; dispatchP99Ms: number }[];
      return rows.map((x) => `${x.worker}: ${fmt(x.tasksPerSecond)} tasks/s, dispatch p50 ${fmt(x.dispatchP50Ms)} ms p99 ${fmt(x.dispatchP99Ms)} ms`);
    }
    case "console":
      return [
        `baton: runs list p50 ${fmt(m["listP50Ms"])} / p99 ${fmt(m["listP99Ms"])} ms, counts p99 ${fmt(m["countsP99Ms"])} ms over ${fmt(m["storedRuns"])} runs; ` +
          `${fmt(m["wideRunTasks"])}-task run drawn ${fmt(m["wideRunDrawnMs"])} ms, interactive ${fmt(m["wideRunInteractiveMs"])} ms; ` +
          `unwatched console: ${fmt(m["consoleOnTasksPerSecond"])} vs ${fmt(m["consoleOffTasksPerSecond"])} tasks/s without (${fmt(m["consoleOnOffRatio"])}x; ` +
          `noise ±${fmt((m["consoleIdleNoise"] ?? 0) * 100)}%, ${m["consoleIdleWithinNoise"] ? "within noise" : "outside the noise"})`,
      ];
    case "subworkflows":
      return [
        `baton: ${fmt(m["parentsPerSecond"])} parents/s, ${fmt(m["childTasksPerSecond"])} child tasks/s; a child's start lag p50 ${fmt(m["childStartLagP50Ms"])} / ` +
          `p99 ${fmt(m["childStartLagP99Ms"])} ms; independent flow dispatch p50 ${fmt(m["smallUnderLoadP50Ms"])} / p99 ${fmt(m["smallUnderLoadP99Ms"])} ms meanwhile, ` +
          `${fmt(m["p50Ratio"])}x / ${fmt(m["p99Ratio"])}x alone`,
      ];
    case "events":
      return [
        `baton: PublishEvent ${fmt(m["publishPerSecond"])}/s from 32 callers at once; a backlog handled at ${fmt(m["noHandlerPerSecond"])} events/s with no handler, ` +
          `${fmt(m["startPerSecond"])} events/s with a handler starting a run each`,
      ];
    case "retention":
      return [
        `baton: reaper on/off: ${fmt(m["runsPerSecondOn"])} / ${fmt(m["runsPerSecondOff"])} runs/s (${fmt(m["onOverOff"])}x, noise ±${fmt((m["throughputNoise"] ?? 0) * 100)}%); ` +
          `result -> next step p50 ${fmt(m["hopP50OnMs"])} / ${fmt(m["hopP50OffMs"])} ms, p99 ${fmt(m["hopP99OnMs"])} / ${fmt(m["hopP99OffMs"])} ms ` +
          `(p99 ${fmt(m["hopP99WhileReapingMs"])} ms while a reaper transaction was open)`,
        `baton: removed ${fmt(m["runsRemovedPerSecond"])} runs/s, ${fmt(m["tasksRemovedPerSecond"])} tasks/s; stored runs at the end ${fmt(m["storedRunsEndOn"])} on, ` +
          `${fmt(m["storedRunsEndOff"])} off; tables ${fmt(m["tablesMbEndOn"])} MB on, ${fmt(m["tablesMbEndOff"])} MB off, growing in a leg's second half ` +
          `${fmt(m["secondHalfMbPer1000RunsOn"])} MB on, ${fmt(m["secondHalfMbPer1000RunsOff"])} MB off per 1,000 runs; longest reaper transaction ` +
          `${fmt(m["longestReaperXactMs"])} ms (statement max ${fmt(m["reaperStatementMaxMs"])} ms), ${fmt(m["lockWaitsBehindReaper"])} lock-wait samples behind it`,
      ];
    default:
      return [];
  }
}

/** Where a throughput scenario's CPU went, per task: server, database, workers (and the load generator). */
export function cpuLine(r: ScenarioResult): string {
  const m = r.metrics;
  const d = (r.details ?? {}) as Record<string, unknown>;
  const cpu = d["cpu"] as Record<string, number> | undefined;
  const num = (k: string) => d[k] as number | undefined;
  const dbMs = num("postgresCpuMsPerTask");
  const database =
    dbMs === undefined || dbMs === null || !Number.isFinite(dbMs)
      ? "database in the server's process"
      : `${r.system === "baton" ? "PostgreSQL" : "database"} ${fmt(dbMs)}`;
  const workers =
    num("workerCpuMsPerTask") !== undefined
      ? `workers ${fmt(num("workerCpuMsPerTask"))}, load ${fmt(num("benchProcessCpuMsPerTask"))}`
      : `workers+load ${fmt(num("benchProcessCpuMsPerTask"))}`;
  return (
    `${r.system}: ${fmt(m["seconds"])} s; CPU ms/task: ${num("serverProcesses") === 0 ? "no server" : `server ${fmt(num("serverCpuMsPerTask"))}`}, ${database}, ${workers}` +
    (num("commitsPerTask") !== undefined ? `; ${fmt(num("commitsPerTask"))} commits/task` : "") +
    (cpu ? `; machine ${Math.round(100 * cpu["machineBusyFraction"]!)}% busy, ${fmt(cpu["otherCpuSeconds"])} CPU-s by other work` : "")
  );
}

const COLORS: Record<SystemName, string> = {
  baton: "#2b6cb0",
  conductor: "#c05621",
  "conductor-postgres": "#dd6b20",
  temporal: "#6b46c1",
  "graphile-worker": "#2f855a",
};
const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");

/** Horizontal bars, one group per headline metric, each bar scaled to the group's largest value. */
export function renderSvg(report: Report): string {
  const width = 960;
  const labelW = 150;
  const barMax = width - labelW - 230;
  const parts: string[] = [];
  let y = 56;
  for (const scenario of SCENARIOS) {
    for (const h of HEADLINES[scenario]) {
      const bars = SYSTEMS.map((s) => ({ s, r: find(report.results, scenario, s) })).filter((x) => x.r);
      if (bars.length === 0) continue;
      const values = bars.map((b) => b.r!.metrics[h.metric]).filter((v): v is number => v !== undefined && Number.isFinite(v));
      const max = Math.max(...values, 0) || 1;
      parts.push(`<text x="12" y="${y}" font-weight="bold">${esc(`${scenario}: ${h.label} (${h.unit}; ${h.better} is better)`)}</text>`);
      y += 8;
      for (const { s, r } of bars) {
        const v = r!.metrics[h.metric];
        parts.push(`<text x="${labelW - 8}" y="${y + 13}" text-anchor="end">${esc(s)}</text>`);
        if (v !== undefined && Number.isFinite(v)) {
          const w = Math.max(1, (barMax * v) / max);
          parts.push(`<rect x="${labelW}" y="${y}" width="${w.toFixed(1)}" height="17" fill="${COLORS[s]}"/>`);
          const ratio = report.ratios.find((x) => x.scenario === scenario && x.metric === h.metric && x.peer === s);
          const note = (r!.status === "partial" ? " (partial)" : "") + (ratio ? `  — Baton ${ratio.batonAhead.toFixed(2)}x` : "");
          parts.push(`<text x="${(labelW + w + 6).toFixed(1)}" y="${y + 13}">${esc(fmt(v) + note)}</text>`);
        } else {
          parts.push(`<text x="${labelW + 4}" y="${y + 13}" fill="#888">${esc(r!.status === "not applicable" ? "n/a" : r!.status)}</text>`);
        }
        y += 21;
      }
      y += 18;
    }
  }
  const title = `Baton bench (${report.mode}) — ${report.finishedAt} — ${String(report.machine["cpus"])} cores, synchronous_commit=${report.postgres["synchronous_commit"] ?? "?"}`;
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${y + 10}" viewBox="0 0 ${width} ${y + 10}" font-family="sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="12" y="24" font-size="15" font-weight="bold">${esc(title)}</text>`,
    ...parts,
    `</svg>`,
  ].join("\n");
}

/** The report in `file`, or undefined when there is none (or it is not a report). */
export function readReport(file: string): Report | undefined {
  try {
    const report = JSON.parse(readFileSync(file, "utf8")) as Report;
    return Array.isArray(report.results) ? report : undefined;
  } catch {
    return undefined;
  }
}

/**
 * --merge: `fresh`'s results replace the same (system, scenario) results of
 * `previous`; the rest of `previous` is kept, each marked with the run it came
 * from (e.g. this morning's peers beside the final Baton run).
 */
export function mergeReports(previous: Report, fresh: Report): Report {
  const key = (r: ScenarioResult) => `${r.system}/${r.scenario}`;
  const replaced = new Set(fresh.results.map(key));
  const kept = previous.results
    .filter((r) => !replaced.has(key(r)))
    .map((r) => ({ ...r, details: { ...r.details, fromRun: (r.details?.["fromRun"] as string | undefined) ?? previous.startedAt } }));
  const results = [...kept, ...fresh.results].sort(
    (a, b) => SCENARIOS.indexOf(a.scenario) - SCENARIOS.indexOf(b.scenario) || SYSTEMS.indexOf(a.system) - SYSTEMS.indexOf(b.system),
  );
  // A kept note about a replaced result ("conductor fanout: other work …") no longer holds.
  const keptNotes = previous.notes.filter((n) => !fresh.notes.includes(n) && ![...replaced].some((k) => n.startsWith(k.replace("/", " "))));
  const union = (k: string) => [...new Set([...((previous.options[k] as string[] | undefined) ?? []), ...((fresh.options[k] as string[] | undefined) ?? [])])];
  return {
    ...fresh,
    mode: previous.mode === fresh.mode ? fresh.mode : previous.mode,
    // The counts each side ran with (a --no-baton run's peerCounts, a --no-peers run's counts) stay in the options.
    options: { ...previous.options, ...fresh.options, only: union("only"), peers: union("peers"), mergedWith: previous.startedAt },
    results,
    ratios: computeRatios(results),
    notes: [
      ...fresh.notes,
      ...keptNotes,
      `Merged: ${kept.length} results kept from the run started ${previous.startedAt}; ${fresh.results.length} from the run started ${fresh.startedAt}.`,
    ],
  };
}

export function writeReport(report: Report, outDir: string): { json: string; svg: string } {
  mkdirSync(outDir, { recursive: true });
  const json = path.join(outDir, "report.json");
  const svg = path.join(outDir, "chart.svg");
  writeFileSync(json, JSON.stringify(report, null, 2) + "\n");
  writeFileSync(svg, renderSvg(report) + "\n");
  return { json, svg };
}
