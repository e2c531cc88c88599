// The common frame of a peer's driver: a child process of the bench that
// loads the peer's client libraries from the install cache, runs the
// scenarios it was asked for with the same shapes and counts as Baton's, and
// prints each scenario's result as a `SCENARIO <json>` line on stdout as soon
// as that scenario ends.
import { createRequire } from "node:module";
import path from "node:path";
import { pathToFileURL } from "node:url";
import type { Counts, ScenarioName, ScenarioResult, SystemName } from "../lib/types.js";
import { cpuMsPerTask, startInClosedLoop, throughputFigures } from "../lib/throughput.js";
import { cpuMeter, errorText, nowMs, pool, rssMb, round, sleep } from "../lib/util.js";

export interface DriverConfig {
  system: SystemName;
  scenarios: ScenarioName[];
  counts: Counts;
  quick: boolean;
  timeoutS: number;
  /** Directory whose node_modules holds the peer's npm packages. */
  modulesDir: string;
  /** Whatever the peer needs to connect: URLs, addresses. */
  endpoint: Record<string, string>;
  /** Processes whose CPU counts as the peer's server (and whose RSS the memory scenario reads). */
  serverPids: number[];
  /** The peer's database process (tree): PostgreSQL or Redis; its CPU is reported as the database's. */
  postgresPid?: number;
}

let currentDeadline = Number.POSITIVE_INFINITY;
let lastProgress = "";
/** Logs where the running scenario is; a scenario that runs out of time reports its last step as the cause. */
export function progress(config: DriverConfig, text: string): void {
  lastProgress = text;
  console.error(`  ${config.system}: ${text}`);
}
/** Worker processes the driver started (a peer's workers in another language): their CPU is the workers'. */
export const workerPids: number[] = [];
/** nowMs() by which the running scenario's body should wrap up (a little before its timeout). */
export const deadline = (): number => currentDeadline;

export type ScenarioBody = (
  config: DriverConfig,
) => Promise<{ metrics: Record<string, number>; details?: Record<string, unknown>; status?: ScenarioResult["status"]; reason?: string }>;

/** Imports a package installed under `dir` (the peer's cache), ESM or CommonJS. */
export async function importFrom<T>(dir: string, name: string): Promise<T> {
  const require = createRequire(path.join(dir, "package.json"));
  const resolved = require.resolve(name);
  return (await import(pathToFileURL(resolved).href)) as T;
}

export function notApplicable(reason: string): ScenarioBody {
  return async () => ({ metrics: {}, status: "not applicable", reason });
}

export async function runDriver(
  bodies: Partial<Record<ScenarioName, ScenarioBody>>,
  setup?: (config: DriverConfig) => Promise<() => Promise<void>>,
): Promise<void> {
  const config = JSON.parse(process.argv[2] ?? "{}") as DriverConfig;
  const results: ScenarioResult[] = [];
  let teardown: (() => Promise<void>) | undefined;
  try {
    teardown = await setup?.(config);
    for (const scenario of config.scenarios) {
      const body = bodies[scenario];
      const t0 = nowMs();
      if (!body) {
        results.push({ scenario, system: config.system, status: "not applicable", reason: "no equivalent in this peer", metrics: {}, seconds: 0 });
        report(results[results.length - 1]!);
        continue;
      }
      console.error(`  ${config.system}: ${scenario} ...`);
      const meter = cpuMeter(config.serverPids, config.postgresPid, workerPids);
      currentDeadline = t0 + (config.timeoutS - 20) * 1000;
      lastProgress = "";
      try {
        const out = await withTimeout(body(config), config.timeoutS * 1000, `${config.system} ${scenario}`, () => lastProgress);
        results.push({
          scenario,
          system: config.system,
          status: out.status ?? "ok",
          ...(out.reason ? { reason: out.reason } : {}),
          metrics: out.metrics,
          details: { ...out.details, cpuWholeScenario: meter() },
          seconds: round((nowMs() - t0) / 1000, 1),
        });
      } catch (error) {
        results.push({ scenario, system: config.system, status: "failed", reason: errorText(error), metrics: {}, seconds: round((nowMs() - t0) / 1000, 1) });
      }
      report(results[results.length - 1]!);
    }
  } catch (error) {
    for (const scenario of config.scenarios.filter((s) => !results.some((r) => r.scenario === s))) {
      results.push({ scenario, system: config.system, status: "failed", reason: errorText(error), metrics: {}, seconds: 0 });
      report(results[results.length - 1]!);
    }
  } finally {
    await teardown?.().catch(() => {});
  }
  process.exit(0);
}

/**
 * One scenario's result, as soon as it is known: a line for the log (with the
 * cause of anything not ok) and a `SCENARIO <json>` line on stdout, so the bench
 * keeps it even if this process dies in a later scenario.
 */
function report(r: ScenarioResult): void {
  console.error(`  ${r.system}: ${r.scenario}: ${r.status}${r.reason ? ` (${r.reason.replace(/\s+/g, " ").slice(0, 600)})` : ""} ${JSON.stringify(r.metrics)}`);
  process.stdout.write(`SCENARIO ${JSON.stringify(r)}\n`);
}

export function withTimeout<T>(promise: Promise<T>, ms: number, what: string, last: () => string = () => ""): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => {
        const at = last();
        reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s (the scenario's time; --timeout)${at ? `; its last step: ${at}` : ""}`));
      }, ms);
    }),
  ]);
}

/** The fan-out scenario's runs, as Baton's: a warm-up of 10 branches, then the small and the large run. */
export const fanoutRuns = (counts: Counts) =>
  [
    ["warm", 10],
    ["small", counts.fanoutSmall],
    ["large", counts.fanoutLarge],
  ] as const;

/**
 * The throughput measurement every peer shares: a warm-up (not counted),
 * then `runs` starts with `startConcurrency` in flight while workers run;
 * ends when `finished()` reaches the count.
 */
export async function measureThroughput(
  config: DriverConfig,
  runs: number,
  start: (i: number) => Promise<unknown>,
  finished: () => number | Promise<number>,
): Promise<{ metrics: Record<string, number>; details: Record<string, unknown>; status?: ScenarioResult["status"]; reason?: string }> {
  const { pool, until } = await import("../lib/util.js");
  const left = () => Math.max(1000, deadline() - nowMs());
  const warm = Math.min(100, Math.max(20, Math.round(runs * 0.02)));
  await pool(warm, config.counts.startConcurrency, (i) => start(-1 - i));
  if (!(await until(async () => (await finished()) >= warm, Math.min(180_000, left()), 20)))
    throw new Error(`warm-up stuck: ${await finished()} of ${warm} runs finished`);
  const base = await finished();
  const cpu = cpuMeter(config.serverPids, config.postgresPid, workerPids);
  const t0 = nowMs();
  let startedAt = 0;
  // Closed loop: besides a steady state, a run cut short by the deadline leaves little behind to drain.
  const window = config.counts.startConcurrency * 4;
  const started = await startInClosedLoop({
    runs,
    concurrency: config.counts.startConcurrency,
    window,
    deadline: deadline(),
    finished: async () => (await finished()) - base,
    start,
  });
  startedAt = nowMs();
  const ok = started === runs && (await until(async () => (await finished()) - base >= runs, left(), 10));
  if (!ok) await until(async () => (await finished()) - base >= started, Math.max(0, Math.min(30_000, deadline() - nowMs())), 10);
  const elapsed = (nowMs() - t0) / 1000;
  const cpuUse = cpu();
  // Cut short by the deadline: rates from what did finish.
  const completedRuns = ok ? runs : Math.min(started, (await finished()) - base);
  // Whatever is left must not slow the scenarios after this one (they share this peer's queues): drain, untimed.
  const drained = await until(async () => (await finished()) - base >= started, Math.max(0, deadline() + 15_000 - nowMs()), 20);
  const figures = throughputFigures({ runs, started, completedRuns, seconds: elapsed, startSeconds: (startedAt - t0) / 1000 });
  const { tasks } = figures;
  return {
    metrics: figures.metrics,
    details: {
      ...figures.counts,
      workerConcurrencyPerType: config.counts.concurrency,
      serverProcesses: config.serverPids.length,
      cpu: cpuUse,
      ...cpuMsPerTask(cpuUse, tasks),
      inFlightWindow: window,
      ...(drained ? {} : { leftover: "runs started here had not all finished by the scenario's deadline; later scenarios may be slowed" }),
    },
    ...(ok
      ? {}
      : {
          status: "partial" as const,
          reason: `cut short by the deadline: ${started} of ${runs} runs started, ${completedRuns} finished; rates are over those`,
        }),
  };
}

/**
 * The memory measurement every peer with a server shares: the server's RSS
 * before and after `memoryRuns` runs that wait (started with
 * `startConcurrency` in flight, stopping 20 s before the scenario's deadline).
 * `name` says whose RSS it is (for errors), `holds` what that process holds.
 */
export async function measureWaitingMemory(
  config: DriverConfig,
  name: string,
  holds: string,
  start: (i: number) => Promise<unknown>,
): ReturnType<ScenarioBody> {
  const pid = config.serverPids[0]!;
  await sleep(500);
  const baseline = rssMb(pid);
  const runs = config.counts.memoryRuns;
  let started = 0;
  const t0 = nowMs();
  await pool(runs, config.counts.startConcurrency, async (i) => {
    if (nowMs() > deadline() - 20_000) return; // out of time: measure what was reached
    await start(i);
    started++;
  });
  const startSeconds = (nowMs() - t0) / 1000;
  await sleep(2000);
  const after = rssMb(pid);
  if (!after || !baseline) throw new Error(`cannot read ${name}'s RSS`);
  return {
    ...(started < runs ? { status: "partial" as const, reason: `reached ${started} of ${runs} waiting runs before the scenario's deadline` } : {}),
    metrics: {
      rssMb: after.rssMb,
      peakRssMb: after.peakMb,
      baselineRssMb: baseline.rssMb,
      waitingRuns: started,
      startsPerSecond: round(started / startSeconds, 0),
    },
    details: { process: holds },
  };
}
