// `npm run bench`: Baton's figures side by side with its peers'.
//
//   node --import tsx test/bench/run.ts [--quick] [--only throughput,dispatch] [--peers conductor,temporal | --no-peers]
//                                       [--backlog-scale 0.01] [--scale 0.1] [--profile] [--out bench-results]
//                                       [--database-url postgres://...] [--timeout 900]
//
// Starts its own PostgreSQL (embedded, pg_stat_statements loaded) unless
// --database-url names a cluster to make databases in; each Baton scenario
// gets a fresh database and its own server process(es). Peers are installed
// into ~/.cache/baton-bench on first use. Writes bench-results/report.json and
// bench-results/chart.svg and prints the table.
import { cpus, totalmem } from "node:os";
import path from "node:path";
import { startCluster } from "./lib/postgres.js";
import { computeRatios, mergeReports, readReport, renderTable, writeReport, type Report } from "./lib/report.js";
import { SCENARIOS, SYSTEMS, type BenchOptions, type Counts, type ScenarioName, type ScenarioResult, type SystemName } from "./lib/types.js";
import { ROOT, errorText, killTracked, nowMs, round } from "./lib/util.js";
import { BATON_SCENARIOS } from "./scenarios/baton.js";
import { runPeer } from "./peers/index.js";

const USAGE = `usage: npm run bench -- [--quick] [--only ${SCENARIOS.join(",")}] [--peers conductor,conductor-postgres,temporal,graphile-worker | --no-peers]
                      [--backlog-scale F] [--scale F] [--peer-scale F] [--profile] [--out DIR] [--database-url URL] [--timeout SECONDS] [--no-baton] [--merge]
                      [--retention-rate RUNS_PER_S] [--retention-legs on,off]`;

export function parseArgs(argv: string[]): BenchOptions {
  const get = (name: string): string | undefined => {
    const i = argv.findIndex((a) => a === name || a.startsWith(`${name}=`));
    if (i < 0) return undefined;
    const a = argv[i]!;
    if (a.includes("=")) return a.slice(a.indexOf("=") + 1);
    const next = argv[i + 1];
    return next !== undefined && !next.startsWith("--") ? next : "";
  };
  const known = [
    "--quick",
    "--only",
    "--peers",
    "--no-peers",
    "--backlog-scale",
    "--scale",
    "--peer-scale",
    "--profile",
    "--out",
    "--database-url",
    "--timeout",
    "--no-baton",
    "--merge",
    "--retention-rate",
    "--retention-legs",
    "--help",
  ];
  for (const a of argv) {
    if (a.startsWith("--") && !known.includes(a.split("=")[0]!)) throw new Error(`unknown option ${a}\n${USAGE}`);
  }
  if (argv.includes("--help")) {
    console.log(USAGE);
    process.exit(0);
  }
  const quick = argv.includes("--quick");
  const onlyArg = get("--only");
  const only = (
    onlyArg
      ? onlyArg
          .split(",")
          .map((s) => s.trim())
          .filter(Boolean)
      : [...SCENARIOS]
  ) as ScenarioName[];
  for (const s of only) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario ${s}; known: ${SCENARIOS.join(", ")}`);
  const peersArg = get("--peers");
  const allPeers: SystemName[] = SYSTEMS.filter((s) => s !== "baton");
  let peers: SystemName[] = quick ? [] : [...allPeers];
  if (peersArg !== undefined) peers = peersArg === "" ? [...allPeers] : (peersArg.split(",").map((s) => s.trim()) as SystemName[]);
  if (argv.includes("--no-peers")) peers = [];
  for (const p of peers) if (!allPeers.includes(p)) throw new Error(`unknown peer ${p}; known: ${allPeers.join(", ")}`);
  const backlogScale = Number(get("--backlog-scale") ?? (quick ? 0.01 : 1));
  const scale = Number(get("--scale") ?? 1);
  if (!(backlogScale > 0) || !(scale > 0)) throw new Error("--backlog-scale and --scale take a positive number");
  const n = (full: number, small: number, min = 5) => Math.max(min, Math.round((quick ? small : full) * scale));
  const counts: Counts = {
    throughputRuns: n(20_000, 2_000, 20),
    dispatchRuns: n(300, 100),
    startAndWaitRuns: n(300, 100),
    fanoutSmall: n(1_000, 100, 10),
    fanoutLarge: n(10_000, 1_000, 20),
    backlogQueued: Math.max(100, Math.round(1_000_000 * backlogScale)),
    backlogFinished: Math.max(1_000, Math.round(10_000_000 * backlogScale)),
    backlogSamples: n(200, 50),
    replicaRuns: n(20_000, 2_000, 20),
    memoryRuns: n(100_000, 5_000, 20),
    fairnessFlood: n(100_000, 2_000, 50),
    fairnessSmall: n(100, 100, 5),
    hostileIterations: n(5_000, 1_000, 20),
    hostileRepeats: quick ? 1 : 3,
    hostileJsonQuotes: n(1_000_000, 30_000, 1_000),
    jqItems: n(30_000, 30_000, 1_000),
    retentionLegSeconds: n(180, 40, 10),
    subParents: n(200, 20, 2),
    subChildren: n(50, 20, 2),
    subTree: n(10_000, 1_000, 20),
    eventsPublished: n(5_000, 1_000, 20),
    eventsBacklog: n(20_000, 2_000, 20),
    eventsStarts: n(5_000, 1_000, 20),
    concurrency: 64,
    startConcurrency: 64,
  };
  // Peers run fewer runs in the full mode: the rates are steady-state either way (after the same warm-up), and the
  // full bench with four peers has to finish in about 25 minutes on a quiet 2-core machine. Fan-out sizes are kept.
  const peerScale = Number(get("--peer-scale") ?? (quick ? 1 : 0.25));
  if (!(peerScale > 0)) throw new Error("--peer-scale takes a positive number");
  const p = (count: number, min: number) => Math.max(min, Math.round(count * peerScale));
  const peerCounts: Counts = {
    ...counts,
    throughputRuns: p(counts.throughputRuns, 20),
    replicaRuns: p(counts.replicaRuns, 20),
    memoryRuns: p(counts.memoryRuns, 20),
    // Latency samples: 100 runs each (300 tasks for dispatch), as in the quick mode.
    dispatchRuns: Math.min(counts.dispatchRuns, 100),
    startAndWaitRuns: Math.min(counts.startAndWaitRuns, 100),
  };
  const databaseUrl = get("--database-url");
  const retentionRate = Number(get("--retention-rate") ?? 0);
  if (!(retentionRate >= 0)) throw new Error("--retention-rate takes runs per second (0: a closed loop)");
  const retentionLegs = (get("--retention-legs") || "").split(",").filter(Boolean);
  for (const l of retentionLegs) if (l !== "on" && l !== "off") throw new Error(`--retention-legs takes on and off, e.g. on,off; got ${l}`);
  return {
    quick,
    only,
    peers,
    counts,
    peerCounts,
    backlogScale,
    profile: argv.includes("--profile"),
    baton: !argv.includes("--no-baton"),
    merge: argv.includes("--merge"),
    outDir: path.resolve(get("--out") || path.join(ROOT, "bench-results")),
    ...(databaseUrl ? { databaseUrl } : {}),
    scenarioTimeoutS: Number(get("--timeout") ?? (quick ? 120 : 900)),
    retention: { rate: retentionRate, ...(retentionLegs.length ? { legs: retentionLegs as ("on" | "off")[] } : {}) },
    log: (line) => console.error(line),
  };
}

/**
 * Runs the scenarios. `onProgress` gets the report as it stands after every
 * scenario (Baton's or a peer's), so a run cut short, or a peer that fails,
 * still leaves a report of everything measured so far.
 */
export async function runBench(options: BenchOptions, onProgress: (report: Report) => void = () => {}): Promise<Report> {
  const startedAt = new Date().toISOString();
  const log = options.log;
  log(`bench: ${options.quick ? "quick" : "full"} run of ${options.only.join(", ")}; peers: ${options.peers.join(", ") || "none"}`);
  const cluster = await startCluster(options.databaseUrl ? { databaseUrl: options.databaseUrl } : {});
  const results: ScenarioResult[] = [];
  const notes: string[] = [];
  const current = (): Report => ({
    startedAt,
    finishedAt: new Date().toISOString(),
    mode: options.quick ? "quick" : "full",
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? "?",
      memoryGb: round(totalmem() / 2 ** 30, 1),
      node: process.version,
      platform: process.platform,
    },
    postgres: cluster.settings,
    options: {
      only: options.only,
      peers: options.peers,
      counts: options.counts,
      ...(options.peers.length ? { peerCounts: options.peerCounts } : {}),
      backlogScale: options.backlogScale,
      profile: options.profile,
    },
    results: [...results],
    ratios: computeRatios(results),
    notes: [
      ...notes,
      ...busyNotes(results),
      "Dispatch latency: from the task's scheduledTime (server clock, whole ms, +0.5 ms for the truncation) to the worker's handler holding it (same machine clock, sub-ms).",
      "Every system runs on this one machine with its workers; CPU is shared, so figures are for the whole stack on these cores.",
    ],
  });
  const add = (r: ScenarioResult) => {
    results.push(r);
    try {
      onProgress(current());
    } catch (error) {
      log(`bench: could not write the report so far: ${errorText(error)}`);
    }
  };
  // Interrupted: keep what was measured, then take down what the bench started (servers, peers, PostgreSQL).
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      notes.push(`The run was interrupted (${signal}) after ${results.length} results; the scenarios after those were not run.`);
      try {
        onProgress(current());
      } catch {
        // nothing more to do on the way out
      }
      killTracked();
      void cluster.stop().finally(() => process.exit(130));
    });
  }
  try {
    log(
      `bench: PostgreSQL ${cluster.settings["server_version"]}, synchronous_commit=${cluster.settings["synchronous_commit"]}, fsync=${cluster.settings["fsync"]}` +
        `, pg_stat_statements ${cluster.statements ? "loaded" : "not loaded"}`,
    );
    if (cluster.settings["synchronous_commit"] !== "on" || cluster.settings["fsync"] !== "on") {
      notes.push(`Commits were NOT durable in this run: synchronous_commit=${cluster.settings["synchronous_commit"]}, fsync=${cluster.settings["fsync"]}.`);
    }
    for (const scenario of options.baton ? options.only : []) {
      const t = nowMs();
      log(`bench: baton ${scenario} ...`);
      const result = await BATON_SCENARIOS[scenario]({ options, cluster });
      add(result);
      log(
        `bench: baton ${scenario}: ${result.status}${result.reason ? ` (${result.reason.split("\n")[0]})` : ""} ${JSON.stringify(result.metrics)} in ${round((nowMs() - t) / 1000, 1)} s`,
      );
    }
    for (const peer of options.peers) {
      log(`bench: peer ${peer} ...`);
      const reported = new Set<string>();
      try {
        await runPeer(peer, { options, cluster }, (r) => {
          reported.add(r.scenario);
          add(r);
          log(`bench: ${peer} ${r.scenario}: ${r.status}${r.reason ? ` (${r.reason.replace(/\s+/g, " ").slice(0, 600)})` : ""} ${JSON.stringify(r.metrics)}`);
        });
      } catch (error) {
        for (const scenario of options.only.filter((s) => !reported.has(s)))
          add({ scenario, system: peer, status: "failed", reason: errorText(error), metrics: {}, seconds: 0 });
      }
    }
  } finally {
    await cluster.stop();
  }
  return current();
}

/** Flags scenarios during which other work on the machine took a large share of the CPU. */
function busyNotes(results: ScenarioResult[]): string[] {
  const out: string[] = [];
  for (const r of results) {
    const cpu = r.details?.["cpuWholeScenario"] as { otherCpuSeconds: number; wallSeconds: number } | undefined;
    if (!cpu || !(cpu.wallSeconds > 0)) continue;
    const share = cpu.otherCpuSeconds / cpu.wallSeconds / cpus().length;
    if (share > 0.15)
      out.push(`${r.system} ${r.scenario}: other work on this machine used ${Math.round(100 * share)}% of its CPU meanwhile; the figures are pessimistic.`);
  }
  return out;
}

function whereTimeGoes(report: Report): string {
  const out: string[] = [];
  for (const r of report.results.filter((x) => x.system === "baton" && x.details)) {
    const d = r.details!;
    const statements = (d["topStatements"] ?? []) as { query: string; calls: number; totalMs: number; meanMs: number; planMs?: number }[];
    const profiles = (d["serverProfile"] ?? []) as {
      areas: { area: string; percent: number }[];
      functions: { fn: string; percent: number }[];
      longTasks?: { samples: number; wallMs: number; where: string }[];
    }[];
    const states = d["backendStates"] as { busyBackendsMean: number; top: { what: string; percent: number }[] } | undefined;
    if (!statements.length && !profiles.length) continue;
    out.push(`-- ${r.scenario}`);
    if (states)
      out.push(
        `   backends busy on average ${states.busyBackendsMean}: ${states.top
          .slice(0, 6)
          .map((t) => `${t.what} ${t.percent}%`)
          .join(", ")}`,
      );
    for (const s of statements.slice(0, 5)) {
      out.push(
        `   db ${String(s.totalMs).padStart(7)} ms ${String(s.calls).padStart(8)} calls ${s.meanMs.toFixed(3).padStart(8)} ms/call ${String(s.planMs ?? 0).padStart(6)} ms planning  ${s.query.slice(0, 100)}`,
      );
    }
    for (const p of profiles.slice(0, 1)) {
      out.push(
        `   server CPU by area: ${p.areas
          .slice(0, 8)
          .map((a) => `${a.area} ${a.percent}%`)
          .join(", ")}`,
      );
      for (const f of p.functions.slice(0, 8)) out.push(`   ${String(f.percent).padStart(5)}%  ${f.fn}`);
      for (const t of (p.longTasks ?? []).slice(0, 5)) out.push(`   long task: ${t.samples} samples (${t.wallMs} ms wall)  ${t.where}`);
    }
  }
  return out.length
    ? `\nWhere Baton's time went (pg_stat_statements${report.options["profile"] ? ", server --cpu-prof" : "; add --profile for the server's CPU profile"}):\n${out.join("\n")}`
    : "";
}

const isMain = process.argv[1] && path.resolve(process.argv[1]) === path.resolve(new URL(import.meta.url).pathname);
if (isMain) {
  let options: BenchOptions;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    console.error(errorText(error));
    process.exit(2);
  }
  // --merge: the report already in --out, read once before this run writes over it.
  const reportFile = path.join(options.outDir, "report.json");
  const previous = options.merge ? readReport(reportFile) : undefined;
  if (options.merge)
    options.log(previous ? `bench: merging into ${reportFile} (run started ${previous.startedAt})` : `bench: --merge: no report in ${reportFile} yet`);
  const finish = (r: Report) => (previous ? mergeReports(previous, r) : r);
  const report = finish(await runBench(options, (r) => writeReport(finish(r), options.outDir)));
  const files = writeReport(report, options.outDir);
  console.log(renderTable(report));
  console.log(whereTimeGoes(report));
  if (report.notes.length) console.log(`\nNotes:\n${report.notes.map((n) => `  - ${n}`).join("\n")}`);
  console.log(
    `\nPostgreSQL: ${Object.entries(report.postgres)
      .map(([k, v]) => `${k}=${v}`)
      .join(", ")}`,
  );
  console.log(`Report: ${path.relative(process.cwd(), files.json)}, chart: ${path.relative(process.cwd(), files.svg)}`);
  const batonFailed = report.results.some((r) => r.system === "baton" && r.status === "failed");
  process.exit(batonFailed ? 1 : 0);
}
