// Baton's scenarios. Each runs on a fresh database with its own server
// process(es) (the shipped server/dist/main.js), so one scenario's leftovers
// cannot slow the next; each reports its figures plus where the time went
// (CPU split between the server, the bench process and the rest — mostly
// PostgreSQL —, the costliest SQL statements, and with --profile the server's
// hottest functions).
import { existsSync } from "node:fs";
import path from "node:path";
import { pathToFileURL } from "node:url";
import pg from "pg";
import { BatonClient } from "@baton/client";
import { FANOUT, SEQ3, TASK_TYPES, WAITING, fanoutInput, noopWorkers, registerFlows, startServerProcess, type ServerProcess } from "../lib/baton.js";
import { resetStatements, sampleWaits, topStatements, walCounters, type Cluster } from "../lib/postgres.js";
import { summarizeProfile } from "../lib/profile.js";
import { fairnessBody } from "./fairness.js";
import { hostileBody } from "./hostile.js";
import { jqScenario } from "./jq.js";
import { retentionScenario } from "./retention.js";
import { eventsBody } from "./events.js";
import { subworkflowsBody } from "./subworkflows.js";
import { cpuMsPerTask, startInClosedLoop, throughputFigures } from "../lib/throughput.js";
import type { BenchOptions, ScenarioName, ScenarioResult } from "../lib/types.js";
import { anchorWallClock, cpuMeter, distribution, errorText, freePort, nowMs, pool, round, sleep, until } from "../lib/util.js";

export interface BatonContext {
  options: BenchOptions;
  cluster: Cluster;
}

interface Env {
  /** nowMs() by which the body must be done (a little before the scenario's timeout). */
  deadline: number;
  databaseUrl: string;
  postgresPid: number | undefined;
  servers: ServerProcess[];
  clients: BatonClient[];
  /** http://host:port of each server's Conductor REST API (conductorSdk only). */
  conductorBases: string[];
  /** http://host:port of each server's metrics port, /healthz and /metrics (hostile only). */
  metricsBases: string[];
}

/** A scenario body: returns its metrics, details, and optionally a status other than ok. */
type Body = (env: Env) => Promise<{ metrics: Record<string, number>; details?: Record<string, unknown>; status?: ScenarioResult["status"]; reason?: string }>;

async function withBaton(ctx: BatonContext, scenario: ScenarioName, replicas: number, body: Body): Promise<ScenarioResult> {
  const t0 = nowMs();
  const dbName = `bench_${scenario.toLowerCase()}_${process.pid}`;
  const servers: ServerProcess[] = [];
  const clients: BatonClient[] = [];
  const conductorBases: string[] = [];
  const metricsBases: string[] = [];
  let profiles: (string | undefined)[] = [];
  try {
    const databaseUrl = await ctx.cluster.createDatabase(dbName);
    for (let i = 0; i < replicas; i++) {
      // Conductor's REST API only where a scenario drives it (hostile: its large publishes over REST).
      const conductorPort = scenario === "conductorSdk" || scenario === "hostile" ? await freePort() : undefined;
      if (conductorPort) conductorBases.push(`http://127.0.0.1:${conductorPort}`);
      // The metrics port (with /healthz) where a scenario probes it.
      const metricsPort = scenario === "hostile" ? await freePort() : undefined;
      if (metricsPort) metricsBases.push(`http://127.0.0.1:${metricsPort}`);
      servers.push(
        await startServerProcess({
          databaseUrl,
          env: {
            ...(conductorPort ? { BATON_CONDUCTOR_PORT: String(conductorPort) } : {}),
            ...(metricsPort ? { BATON_METRICS_PORT: String(metricsPort) } : {}),
          },
          logFile: path.join(ctx.options.outDir, "logs", `${scenario}-server${i + 1}.log`),
          ...(ctx.options.profile ? { profile: { dir: path.join(ctx.options.outDir, "profiles"), name: `${scenario}-server${i + 1}` } } : {}),
        }),
      );
    }
    for (const s of servers) clients.push(new BatonClient({ address: s.address }));
    await registerFlows(clients[0]!);
    await warmDefinitions(servers);
    await resetStatements(databaseUrl);
    const meter = cpuMeter(
      servers.map((s) => s.pid),
      ctx.cluster.postmasterPid,
    );
    // The backlog scenario fills millions of rows besides measuring: twice the time; polyglot measures three languages.
    const timeoutMs = ctx.options.scenarioTimeoutS * 1000 * (scenario === "backlog" ? 2 : scenario === "polyglot" ? 3 : 1);
    const deadline = t0 + timeoutMs - 15_000;
    const out = await withTimeout(
      body({ deadline, databaseUrl, servers, clients, conductorBases, metricsBases, postgresPid: ctx.cluster.postmasterPid }),
      timeoutMs,
      scenario,
    );
    const cpuWholeScenario = meter();
    const statements = await topStatements(databaseUrl);
    for (const c of clients) c.close();
    profiles = await Promise.all(servers.map((s) => s.stop()));
    servers.length = 0;
    const profileSummaries = profiles.flatMap((p) => (p && existsSync(p) ? [summarizeProfile(p)] : [])).filter((p) => p !== undefined);
    return {
      scenario,
      system: "baton",
      status: out.status ?? "ok",
      ...(out.reason ? { reason: out.reason } : {}),
      metrics: out.metrics,
      details: { ...out.details, cpuWholeScenario, topStatements: statements, ...(profileSummaries.length ? { serverProfile: profileSummaries } : {}) },
      seconds: round((nowMs() - t0) / 1000, 1),
    };
  } catch (error) {
    return { scenario, system: "baton", status: "failed", reason: errorText(error), metrics: {}, seconds: round((nowMs() - t0) / 1000, 1) };
  } finally {
    for (const c of clients) c.close();
    await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
    await ctx.cluster.dropDatabase(dbName);
  }
}

/**
 * One run of each worker flow through each server, one task at a time, before
 * any load: each server then holds the definitions in its caches, so the
 * figures are not about a cold start. (It also kept the bench clear of a pool
 * deadlock the server had — a definition loaded through the pool while an
 * event's transaction held a connection — since fixed in 343f530.)
 */
async function warmDefinitions(servers: ServerProcess[]): Promise<void> {
  for (const server of servers) {
    const workers = noopWorkers(server.address, { concurrency: 1, workerId: "bench-warm", types: [...TASK_TYPES, "bench_item"] });
    const client = new BatonClient({ address: server.address });
    try {
      await client.executeWorkflow(SEQ3.name, { n: 0 }, { waitMs: 60_000 });
      await client.executeWorkflow(FANOUT.name, fanoutInput(1), { waitMs: 60_000 });
    } finally {
      client.close();
      await workers.stop();
    }
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what} did not finish within ${Math.round(ms / 1000)} s`)), ms);
    }),
  ]);
}

/** Whether any run of `name` is still RUNNING (through the API, so it does not depend on the schema). */
async function anyRunning(client: BatonClient, name: string): Promise<boolean> {
  const { workflows } = await client.searchWorkflows({ name, statuses: ["RUNNING"], pageSize: 1 });
  return workflows.length > 0;
}

async function countNotCompleted(client: BatonClient, name: string): Promise<number> {
  const { workflows } = await client.searchWorkflows({ name, statuses: ["FAILED", "TIMED_OUT", "TERMINATED"], pageSize: 100 });
  return workflows.length;
}

/** What is left when a run is stuck: handler counts and the server's queue depths. */
async function stuck(env: Env, workers: { counts: Map<string, number> }[]): Promise<string> {
  const counts = workers.map((w) => [...w.counts].map(([t, n]) => `${t}=${n}`).join(" ")).join("; ");
  const queues = await env.clients[0]!.queues().catch((e: unknown) => errorText(e));
  return `handled ${counts}; queues ${JSON.stringify(queues)}`;
}

// ---- throughput (and replicas) ---------------------------------------------------

async function runThroughput(ctx: BatonContext, env: Env, runs: number) {
  const { counts } = ctx.options;
  const perServer = Math.max(1, Math.round(counts.concurrency / env.servers.length));
  const workers = env.servers.map((s, i) => noopWorkers(s.address, { concurrency: perServer, workerId: `bench-${i + 1}` }));
  const done = () => workers.reduce((n, w) => n + (w.counts.get("bench_c") ?? 0), 0);
  try {
    // Warm-up (JIT, connections, plans): not counted.
    const warm = Math.min(100, Math.max(20, Math.round(runs * 0.02)));
    ctx.options.log(`  warm-up: ${warm} runs`);
    await pool(warm, counts.startConcurrency, (i) => env.clients[i % env.clients.length]!.startWorkflow(SEQ3.name, { n: i }));
    const left = () => Math.max(1000, env.deadline - nowMs());
    if (!(await until(() => done() >= warm, Math.min(120_000, left()), 20))) throw new Error(`warm-up stuck: ${await stuck(env, workers)}`);
    await until(async () => !(await anyRunning(env.clients[0]!, SEQ3.name)), Math.min(60_000, left()), 20);
    const base = done();
    ctx.options.log(`  measuring: ${runs} runs`);

    const wal0 = await walCounters(env.databaseUrl);
    const stopSampling = await sampleWaits(env.databaseUrl);
    const cpu = cpuMeter(
      env.servers.map((s) => s.pid),
      env.postgresPid,
    );
    const t0 = nowMs();
    let startedAt = 0;
    const window = counts.startConcurrency * 4;
    const started = await startInClosedLoop({
      runs,
      concurrency: counts.startConcurrency,
      window,
      deadline: env.deadline,
      finished: () => done() - base,
      start: (i) => env.clients[i % env.clients.length]!.startWorkflow(SEQ3.name, { n: i }),
    });
    startedAt = nowMs();
    ctx.options.log(`  ${started} of ${runs} started; waiting for them to end`);
    const finished = started === runs && (await until(() => done() - base >= runs, left(), 10));
    const settled = finished && (await until(async () => !(await anyRunning(env.clients[0]!, SEQ3.name)), Math.min(60_000, left()), 10));
    const elapsed = (nowMs() - t0) / 1000;
    const cpuUse = cpu();
    const backendStates = await stopSampling();
    const wal1 = await walCounters(env.databaseUrl);
    const failed = await countNotCompleted(env.clients[0]!, SEQ3.name);
    // Cut short by the deadline: rates from what did finish (waiting a little for the ones started).
    if (!settled) await until(() => done() - base >= started, Math.max(0, Math.min(30_000, env.deadline - nowMs())), 10);
    const completedRuns = settled ? runs : Math.min(started, done() - base);
    const figures = throughputFigures({ runs, started, completedRuns, seconds: elapsed, startSeconds: (startedAt - t0) / 1000 });
    const { tasks } = figures;
    return {
      metrics: figures.metrics,
      details: {
        ...figures.counts,
        workerConcurrencyPerType: perServer * env.servers.length,
        startsInFlight: counts.startConcurrency,
        runsInFlightWindow: window,
        backendStates,
        cpu: cpuUse,
        ...cpuMsPerTask(cpuUse, tasks),
        commitsPerTask: round((wal1.xactCommit - wal0.xactCommit) / tasks, 2),
        walBytesPerTask: Math.round((wal1.walBytes - wal0.walBytes) / tasks),
        serverRssMb: env.servers.map((s) => s.rss()?.rssMb),
      },
      ...(settled && failed === 0
        ? {}
        : {
            status: "partial" as const,
            reason: settled
              ? `${failed}+ runs did not complete`
              : started < runs
                ? `cut short by the deadline: ${started} of ${runs} runs started, ${completedRuns} finished; rates are over those`
                : `only ${completedRuns} of ${runs} runs finished in time: ${await stuck(env, workers)}`,
          }),
    };
  } finally {
    await Promise.all(workers.map((w) => w.stop()));
  }
}

export const throughput = (ctx: BatonContext) => withBaton(ctx, "throughput", 1, (env) => runThroughput(ctx, env, ctx.options.counts.throughputRuns));

export const replicas = (ctx: BatonContext) =>
  withBaton(ctx, "replicas", 2, async (env) => {
    const out = await runThroughput(ctx, env, ctx.options.counts.replicaRuns);
    return { ...out, details: { ...out.details, replicas: 2 } };
  });

// ---- dispatch latency ------------------------------------------------------------------

/**
 * One run at a time; for each task, the time from its becoming ready (its
 * scheduledTime, stamped by the server in whole milliseconds, plus 0.5 ms, the
 * expected truncation) to a waiting worker's handler holding it (this process's
 * wall clock with sub-millisecond resolution, anchored to Date.now()). Also,
 * on this process's clock alone: from a worker returning one step's result to
 * it holding the next step (the result's round trip, its commit and dispatch).
 */
async function measureDispatch(env: Env, runs: number) {
  const stamps = { received: new Map<string, number>(), returned: new Map<string, number>() };
  const worker = noopWorkers(env.servers[0]!.address, { concurrency: 1, workerId: "bench-latency", stamps });
  const client = env.clients[0]!;
  const lat: number[] = [];
  const hop: number[] = [];
  try {
    for (let i = 0; i < Math.min(10, runs); i++) await client.executeWorkflow(SEQ3.name, { n: i }, { waitMs: 30_000 }); // warm-up
    for (let i = 0; i < runs; i++) {
      stamps.received.clear();
      stamps.returned.clear();
      anchorWallClock();
      const id = await client.startWorkflow(SEQ3.name, { n: i });
      const run = await client.waitWorkflow(id, 30_000, true);
      if (run.status !== "COMPLETED") throw new Error(`run ${id} ended ${run.status}`);
      const tasks = [...run.tasks].sort((a, b) => a.seq - b.seq);
      tasks.forEach((t, k) => {
        const r = stamps.received.get(t.taskId);
        if (r === undefined) return;
        lat.push(r - (t.scheduledTime + 0.5));
        const prev = k > 0 ? stamps.returned.get(tasks[k - 1]!.taskId) : undefined;
        if (prev !== undefined) hop.push(r - prev);
      });
    }
  } finally {
    await worker.stop();
  }
  return { lat: distribution(lat), hop: distribution(hop) };
}

export const dispatch = (ctx: BatonContext) =>
  withBaton(ctx, "dispatch", 1, async (env) => {
    const m = await measureDispatch(env, ctx.options.counts.dispatchRuns);
    return {
      metrics: { p50Ms: m.lat.p50, p99Ms: m.lat.p99, resultToNextP50Ms: m.hop.p50, resultToNextP99Ms: m.hop.p99 },
      details: { readyToHeld: m.lat, resultToNextTask: m.hop },
    };
  });

// ---- start-and-wait ------------------------------------------------------------------

export const startAndWait = (ctx: BatonContext) =>
  withBaton(ctx, "startAndWait", 1, async (env) => {
    const worker = noopWorkers(env.servers[0]!.address, { concurrency: 4, workerId: "bench-saw" });
    const client = env.clients[0]!;
    const lat: number[] = [];
    try {
      for (let i = 0; i < Math.min(10, ctx.options.counts.startAndWaitRuns); i++) await client.executeWorkflow(SEQ3.name, { n: i }, { waitMs: 30_000 });
      for (let i = 0; i < ctx.options.counts.startAndWaitRuns; i++) {
        const t = nowMs();
        const run = await client.executeWorkflow(SEQ3.name, { n: i }, { waitMs: 30_000 });
        const ms = nowMs() - t;
        if (run.status !== "COMPLETED") throw new Error(`run ${run.workflowId} ended ${run.status}`);
        lat.push(ms);
      }
    } finally {
      await worker.stop();
    }
    const d = distribution(lat);
    return { metrics: { p50Ms: d.p50, p99Ms: d.p99 }, details: { latency: d } };
  });

// ---- fan-out -----------------------------------------------------------------------

export const fanout = (ctx: BatonContext) =>
  withBaton(ctx, "fanout", 1, async (env) => {
    const { fanoutSmall, fanoutLarge, concurrency } = ctx.options.counts;
    const worker = noopWorkers(env.servers[0]!.address, { concurrency, workerId: "bench-fanout", types: ["bench_item"] });
    const client = env.clients[0]!;
    const metrics: Record<string, number> = {};
    const details: Record<string, unknown> = {};
    const deadline = env.deadline;
    let reason: string | undefined;
    try {
      await client.executeWorkflow(FANOUT.name, fanoutInput(10), { waitMs: 60_000 }); // warm-up
      for (const [label, branches] of [
        ["small", fanoutSmall],
        ["large", fanoutLarge],
      ] as const) {
        const input = fanoutInput(branches);
        const before = worker.counts.get("bench_item")!;
        const cpu = cpuMeter(
          env.servers.map((s) => s.pid),
          env.postgresPid,
        );
        const t0 = nowMs();
        const id = await client.startWorkflow(FANOUT.name, input);
        let status = "RUNNING";
        while (status === "RUNNING" && nowMs() < deadline) {
          try {
            const run = await client.waitWorkflow(id, Math.round(Math.max(1000, Math.min(10_000, deadline - nowMs()))), false);
            status = run.status;
          } catch (error) {
            // A server too busy to answer within the wait's deadline: the run goes on; ask again.
            if ((error as { code?: number }).code !== 4) throw error;
          }
        }
        const seconds = (nowMs() - t0) / 1000;
        details[`${label}Cpu`] = cpu();
        details[`${label}Branches`] = branches;
        if (status !== "COMPLETED") {
          const doneBranches = worker.counts.get("bench_item")! - before;
          reason = `${branches}-branch run ${status === "RUNNING" ? `still running after ${round(seconds, 0)} s (${doneBranches} branches done)` : `ended ${status}`}`;
          details[`${label}BranchesDone`] = doneBranches;
          metrics[`${label}BranchesPerSecond`] = round(doneBranches / seconds, 0);
          break;
        }
        metrics[`${label}Seconds`] = round(seconds, 2);
        metrics[`${label}BranchesPerSecond`] = round(branches / seconds, 0);
      }
      if (metrics["smallSeconds"] && metrics["largeSeconds"]) {
        // Linear would be ratio == size ratio: report how far from it.
        metrics["timeRatio"] = round(metrics["largeSeconds"] / metrics["smallSeconds"], 2);
        metrics["sizeRatio"] = round(fanoutLarge / fanoutSmall, 2);
      }
    } finally {
      await worker.stop();
    }
    return { metrics, details, ...(reason ? { status: "partial" as const, reason } : {}) };
  });

// ---- backlog --------------------------------------------------------------------------

/** Fills the database with SQL straight into the tables (schema of server/src/store/migrations.ts). */
async function fillBacklog(databaseUrl: string, queued: number, finished: number, log: (line: string) => void): Promise<Record<string, number>> {
  const c = new pg.Client({ connectionString: databaseUrl });
  await c.connect();
  const timings: Record<string, number> = {};
  try {
    const { rows } = await c.query<{ hash: string }>("SELECT hash FROM baton.workflow_defs WHERE name = $1 ORDER BY version DESC LIMIT 1", [SEQ3.name]);
    const hash = rows[0]?.hash;
    if (!hash) throw new Error("bench_seq3 is not registered");
    const now = Date.now();
    const chunk = 1_000_000;
    // Ids in insertion order (kind in the first group, the row number in the last), so every index
    // grows at its right edge: filling 10M rows then takes minutes, not the best part of an hour
    // of random index page writes. Lookups by id cost the same in either index.
    const id = (kind: number, n: string) => `('a000000${kind}-0000-4000-8000-' || lpad(to_hex(${n}), 12, '0'))::uuid`;
    const step = async (label: string, total: number, sql: (from: number, to: number) => string) => {
      const t = nowMs();
      for (let from = 1; from <= total; from += chunk) {
        const to = Math.min(total, from + chunk - 1);
        await c.query(sql(from, to));
        log(`  backlog: ${label} ${to.toLocaleString("en")}/${total.toLocaleString("en")}`);
      }
      timings[`${label}Seconds`] = round((nowMs() - t) / 1000, 1);
    };
    const runCols = "id, name, version, def_hash, status, input, output, variables, created_at, updated_at, ended_at, next_seq";
    const taskCols =
      "id, run_id, seq, ref, type, def_name, status, iteration, input, output, reason, retry_count, retried_task_id, retried, executed, poll_count, worker_id, lease_token, lease_expires_at, scheduled_at, started_at, ended_at, updated_at, visible_at, callback_after_seconds, response_timeout_seconds, timeout_seconds, sub_workflow_id, rev, extra";
    const perRun = 10;
    const finishedRuns = Math.max(1, Math.ceil(finished / perRun));
    // Finished runs, 10 completed tasks each.
    await step(
      "finishedRuns",
      finishedRuns,
      (a, b) =>
        `INSERT INTO baton.runs (${runCols})
       SELECT ${id(1, "g")}, 'bench_backlog_done', 1, '${hash}', 'COMPLETED', '{"n":1}', '{"n":4}', '{}',
              ${now} - 86400000 + g, ${now} - 86400000 + g, ${now} - 86400000 + g, ${perRun + 1}
       FROM generate_series(${a}, ${b}) g`,
    );
    await step(
      "finishedTasks",
      finishedRuns * perRun,
      (a, b) =>
        `INSERT INTO baton.tasks (${taskCols})
       SELECT ${id(2, "g")}, ${id(1, `((g - 1) / ${perRun} + 1)`)}, (g - 1) % ${perRun} + 1, 'step_' || ((g - 1) % ${perRun}), 'SIMPLE',
              'backlog_done_' || ((g - 1) % ${perRun}), 'COMPLETED', 0, '{"n":1}', '{"n":2}', '', 0, '', false, true, 1, 'filler', 'x', 0,
              ${now} - 86400000 + g / ${perRun}, ${now} - 86400000 + g / ${perRun}, ${now} - 86400000 + g / ${perRun}, ${now} - 86400000 + g / ${perRun}, 0,
              0, 300, 0, '', 3, '{}'
       FROM generate_series(${a}, ${b}) g`,
    );
    // Queued: running runs, each with one ready task of another type, waiting in the queue.
    await step(
      "queuedRuns",
      queued,
      (a, b) =>
        `INSERT INTO baton.runs (${runCols})
       SELECT ${id(3, "g")}, 'bench_backlog_queued', 1, '${hash}', 'RUNNING', '{"n":1}', '{}', '{}', ${now} - 3600000 + g / 1000, ${now} - 3600000 + g / 1000, 0, 2
       FROM generate_series(${a}, ${b}) g`,
    );
    await step(
      "queuedTasks",
      queued,
      (a, b) =>
        `INSERT INTO baton.tasks (${taskCols})
       SELECT ${id(4, "g")}, ${id(3, "g")}, 1, 'waiting', 'SIMPLE', 'backlog_type_' || (g % 10), 'SCHEDULED', 0, '{"n":1}', '{}', '', 0, '', false, false, 0, '', '', 0,
              ${now} - 3600000 + g / 1000, 0, 0, ${now} - 3600000 + g / 1000, ${now} - 3600000 + g / 1000, 0, 300, 0, '', 1, '{}'
       FROM generate_series(${a}, ${b}) g`,
    );
    await step(
      "queueRows",
      queued,
      (a, b) =>
        `INSERT INTO baton.queue (task_id, task_type, run_id, priority, visible_at)
       SELECT ${id(4, "g")}, 'backlog_type_' || (g % 10), ${id(3, "g")}, 0, ${now} - 3600000 + g / 1000
       FROM generate_series(${a}, ${b}) g`,
    );
    const t = nowMs();
    await c.query("VACUUM ANALYZE baton.runs");
    await c.query("VACUUM ANALYZE baton.tasks");
    await c.query("VACUUM ANALYZE baton.queue");
    timings["vacuumAnalyzeSeconds"] = round((nowMs() - t) / 1000, 1);
    const size = await c.query<{ mb: string }>("SELECT pg_database_size(current_database()) / 1048576 AS mb");
    timings["databaseMb"] = Number(size.rows[0]?.mb ?? 0);
    return timings;
  } finally {
    await c.end();
  }
}

export const backlog = (ctx: BatonContext) =>
  withBaton(ctx, "backlog", 1, async (env) => {
    const { backlogQueued, backlogFinished, backlogSamples } = ctx.options.counts;
    const empty = await measureDispatch(env, backlogSamples);
    ctx.options.log(
      `  backlog: empty database p50 ${empty.lat.p50} ms p99 ${empty.lat.p99} ms; filling ${backlogQueued.toLocaleString("en")} queued + ${backlogFinished.toLocaleString("en")} finished`,
    );
    const fill = await fillBacklog(env.databaseUrl, backlogQueued, backlogFinished, ctx.options.log);
    await resetStatements(env.databaseUrl);
    await sleep(1000);
    const full = await measureDispatch(env, backlogSamples);
    return {
      metrics: {
        emptyP50Ms: empty.lat.p50,
        emptyP99Ms: empty.lat.p99,
        backlogP50Ms: full.lat.p50,
        backlogP99Ms: full.lat.p99,
        p50Ratio: round(full.lat.p50 / empty.lat.p50, 2),
        p99Ratio: round(full.lat.p99 / empty.lat.p99, 2),
        queuedTasks: backlogQueued,
        finishedTasks: backlogFinished,
      },
      details: { empty, backlog: full, fill },
    };
  });

// ---- memory -------------------------------------------------------------------------

export const memory = (ctx: BatonContext) =>
  withBaton(ctx, "memory", 1, async (env) => {
    const server = env.servers[0]!;
    const client = env.clients[0]!;
    const runs = ctx.options.counts.memoryRuns;
    await sleep(500);
    const baseline = server.rss();
    const t0 = nowMs();
    let started = 0;
    await pool(runs, ctx.options.counts.startConcurrency, async (i) => {
      if (nowMs() > env.deadline - 20_000) return; // out of time: measure what was reached
      await client.startWorkflow(WAITING.name, { i });
      started++;
      if (started % 20_000 === 0) ctx.options.log(`  memory: ${started.toLocaleString("en")} waiting runs`);
    });
    const startSeconds = (nowMs() - t0) / 1000;
    await sleep(2000);
    const after = server.rss();
    const running = (await client.searchWorkflows({ name: WAITING.name, statuses: ["RUNNING"], pageSize: 1 })).workflows.length;
    if (!after || !baseline) throw new Error("cannot read the server's RSS from /proc");
    return {
      metrics: {
        rssMb: after.rssMb,
        peakRssMb: after.peakMb,
        baselineRssMb: baseline.rssMb,
        waitingRuns: started,
        startsPerSecond: round(started / startSeconds, 0),
      },
      details: { stillRunning: running > 0, asked: runs },
      ...(started < runs ? { status: "partial" as const, reason: `reached ${started} of ${runs} waiting runs before the scenario's deadline` } : {}),
    };
  });

// ---- polyglot (written by someone else) -----------------------------------------------

type PolyglotRow = { worker: string; tasksPerSecond: number; dispatchP50Ms: number; dispatchP99Ms: number; tasks: number };
type RunPolyglot = (o: { quick: boolean; address?: string; log?: (line: string) => void }) => Promise<{ rows: PolyglotRow[] }>;

/** TS, Go and Java workers on one Baton server, measured by test/bench/polyglot.ts against this scenario's server. */
export async function polyglot(ctx: BatonContext): Promise<ScenarioResult> {
  const t0 = nowMs();
  const file = path.join(path.dirname(new URL(import.meta.url).pathname), "..", "polyglot.ts");
  const notRun = (reason: string): ScenarioResult => ({
    scenario: "polyglot",
    system: "baton",
    status: "not run",
    reason,
    metrics: {},
    seconds: round((nowMs() - t0) / 1000, 1),
  });
  if (!existsSync(file)) return notRun("test/bench/polyglot.ts is missing");
  let run: RunPolyglot;
  try {
    const mod = (await import(pathToFileURL(file).href)) as { runPolyglotBench?: RunPolyglot };
    if (typeof mod.runPolyglotBench !== "function") return notRun("test/bench/polyglot.ts does not export runPolyglotBench");
    run = mod.runPolyglotBench;
  } catch (error) {
    return notRun(`test/bench/polyglot.ts failed to load: ${errorText(error)}`);
  }
  return withBaton(ctx, "polyglot", 1, async (env) => {
    let rows: PolyglotRow[];
    try {
      ({ rows } = await run({ quick: ctx.options.quick, address: env.servers[0]!.address, log: (line) => ctx.options.log(`  polyglot: ${line}`) }));
    } catch (error) {
      return { metrics: {}, status: "not run" as const, reason: `runPolyglotBench threw: ${errorText(error)}` };
    }
    const metrics: Record<string, number> = {};
    for (const r of rows) {
      metrics[`${r.worker}.tasksPerSecond`] = r.tasksPerSecond;
      metrics[`${r.worker}.dispatchP50Ms`] = r.dispatchP50Ms;
      metrics[`${r.worker}.dispatchP99Ms`] = r.dispatchP99Ms;
    }
    metrics["tasksPerSecond"] = Math.max(0, ...rows.map((r) => r.tasksPerSecond));
    return { metrics, details: { rows } };
  });
}

// ---- console (test/bench/console.ts) -----------------------------------------------------

/** The console's figures: it starts its own servers (console port on and off). */
export async function consoleScenario(ctx: BatonContext): Promise<ScenarioResult> {
  const t0 = nowMs();
  const { runConsoleBench } = await import("../console.js");
  const { counts, backlogScale } = ctx.options;
  const { metrics, failures } = await runConsoleBench({
    quick: ctx.options.quick,
    storedRuns: Math.max(1_000, Math.round(1_000_000 * backlogScale)),
    branches: counts.fanoutLarge,
    idleRuns: Math.max(20, Math.round(counts.throughputRuns / 2)),
    cluster: ctx.cluster,
    log: ctx.options.log,
  });
  return {
    scenario: "console",
    system: "baton",
    status: failures.length === 0 ? "ok" : Object.keys(metrics).length > 0 ? "partial" : "failed",
    ...(failures.length ? { reason: failures.join("; ") } : {}),
    metrics,
    seconds: round((nowMs() - t0) / 1000, 1),
  };
}

// ---- the same Conductor SDK worker as against Conductor, on Baton's REST API ----

function conductorSdk(ctx: BatonContext): Promise<ScenarioResult> {
  return withBaton(ctx, "conductorSdk", 1, async (env) => {
    const { runConductorSdkBench } = await import("../conductor-sdk.js");
    const c = ctx.options.counts;
    return runConductorSdkBench({
      base: env.conductorBases[0]!,
      runs: c.throughputRuns,
      dispatchRuns: c.dispatchRuns,
      concurrency: c.concurrency,
      startConcurrency: c.startConcurrency,
      deadline: env.deadline,
      log: (line) => ctx.options.log(`  conductorSdk: ${line}`),
    });
  });
}

// ---- retention (scenarios/retention.ts) ---------------------------------------------------

/** Reaper on against off: its legs start their own servers (on a fast clock), so it has twice a scenario's time, as backlog. */
async function retention(ctx: BatonContext): Promise<ScenarioResult> {
  const t0 = nowMs();
  const seconds = () => round((nowMs() - t0) / 1000, 1);
  try {
    const out = await retentionScenario({
      options: ctx.options,
      cluster: ctx.cluster,
      legSeconds: ctx.options.counts.retentionLegSeconds,
      deadline: t0 + 2 * ctx.options.scenarioTimeoutS * 1000 - 15_000,
    });
    return {
      scenario: "retention",
      system: "baton",
      status: out.status ?? "ok",
      ...(out.reason ? { reason: out.reason } : {}),
      metrics: out.metrics,
      details: out.details,
      seconds: seconds(),
    };
  } catch (error) {
    return { scenario: "retention", system: "baton", status: "failed", reason: errorText(error), metrics: {}, seconds: seconds() };
  }
}

export const BATON_SCENARIOS: Record<ScenarioName, (ctx: BatonContext) => Promise<ScenarioResult>> = {
  throughput,
  dispatch,
  startAndWait,
  fanout,
  backlog,
  replicas,
  memory,
  polyglot,
  console: consoleScenario,
  fairness: (ctx) => withBaton(ctx, "fairness", 1, fairnessBody(ctx.options)),
  conductorSdk,
  hostile: (ctx) => withBaton(ctx, "hostile", 1, hostileBody(ctx.options)),
  jq: (ctx) => jqScenario(ctx.options),
  retention,
  subworkflows: (ctx) => withBaton(ctx, "subworkflows", 1, subworkflowsBody(ctx.options)),
  events: (ctx) => withBaton(ctx, "events", 1, eventsBody(ctx.options)),
};
