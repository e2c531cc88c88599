// graphile-worker 0.17.3 on the bench's PostgreSQL: the raw job-queue
// reference. The 3-step flow is a chain of jobs (each adds the next); fan-out
// is a job adding N jobs with a counter row whose last decrement adds the join.
// It has no notion of a waiting run or a server of its own, so memory,
// backlog and replicas do not apply.
import { randomUUID } from "node:crypto";
import pg from "pg";
import { distribution, nowMs, round, wallMs, anchorWallClock } from "../lib/util.js";
import { importFrom, measureThroughput, notApplicable, runDriver, type DriverConfig } from "./driver.js";

interface Helpers {
  job: { run_at: Date; id: string };
  addJob(identifier: string, payload: unknown): Promise<unknown>;
  query(sql: string, values?: unknown[]): Promise<{ rows: Record<string, unknown>[] }>;
}
interface Runner {
  stop(): Promise<void>;
}
interface GraphileWorker {
  Logger: new (factory: (scope: unknown) => (level: string, message: string) => void) => unknown;
  run(options: Record<string, unknown>): Promise<Runner>;
  makeWorkerUtils(
    options: Record<string, unknown>,
  ): Promise<{ addJob(id: string, payload: unknown): Promise<unknown>; migrate(): Promise<void>; release(): Promise<void> }>;
}

/**
 * graphile-worker's settings: its own performance page's batching (a local
 * queue of 500 fetched jobs, job completions batched), 64 jobs at once (the
 * slots Baton's workers have per type; its page's 24 per process was with
 * four processes: here each step waits on a durable commit, so jobs in
 * flight are what throughput needs), and a pool of 64 + 8 because each
 * step's handler adds the next step's job through the pool.
 */
export const GRAPHILE_SETTINGS = {
  concurrentJobs: 64,
  maxPoolSize: 64 + 8,
  localQueue: { size: 500 },
  completeJobBatchDelay: 0,
  failJobBatchDelay: 0,
};

type Payload = { n: number; id?: string; notify?: boolean; fanout?: string; count?: number };

let utils: Awaited<ReturnType<GraphileWorker["makeWorkerUtils"]>>;
let listener: pg.Client;
const done = new Map<string, number>();
const waiters = new Map<string, () => void>();
let stamps: { readyToHeld: number[] } | undefined;

function waitDone(id: string): Promise<void> {
  return new Promise((resolve) => waiters.set(id, resolve));
}

async function setup(config: DriverConfig) {
  const gw = await importFrom<GraphileWorker>(config.modulesDir, "graphile-worker");
  const connectionString = config.endpoint["databaseUrl"]!;
  const stamp = (helpers: Helpers) => {
    if (stamps) stamps.readyToHeld.push(wallMs() - (helpers.job.run_at.getTime() + 0.5));
  };
  const count = (name: string) => done.set(name, (done.get(name) ?? 0) + 1);
  const taskList = {
    bench_a: async (p: Payload, helpers: Helpers) => {
      stamp(helpers);
      count("bench_a");
      await helpers.addJob("bench_b", { ...p, n: p.n + 1 });
    },
    bench_b: async (p: Payload, helpers: Helpers) => {
      stamp(helpers);
      count("bench_b");
      await helpers.addJob("bench_c", { ...p, n: p.n + 1 });
    },
    bench_c: async (p: Payload, helpers: Helpers) => {
      stamp(helpers);
      count("bench_c");
      if (p.notify && p.id) await helpers.query("SELECT pg_notify('bench_done', $1)", [p.id]);
    },
    bench_fork: async (p: Payload, helpers: Helpers) => {
      await helpers.query(`SELECT graphile_worker.add_job('bench_item', json_build_object('fanout', $1::text)) FROM generate_series(1, $2::int)`, [
        p.fanout,
        p.count,
      ]);
    },
    bench_item: async (p: Payload, helpers: Helpers) => {
      count("bench_item");
      const { rows } = await helpers.query("UPDATE bench_fanout SET remaining = remaining - 1 WHERE id = $1 RETURNING remaining", [p.fanout]);
      if (rows[0]?.["remaining"] === 0) await helpers.addJob("bench_join", { fanout: p.fanout });
    },
    bench_join: async (p: Payload, helpers: Helpers) => {
      await helpers.query("SELECT pg_notify('bench_done', $1)", [p.fanout]);
    },
  };
  const quiet = new gw.Logger(() => () => {});
  utils = await gw.makeWorkerUtils({ connectionString, logger: quiet });
  await utils.migrate();
  const admin = new pg.Client({ connectionString });
  await admin.connect();
  await admin.query("CREATE TABLE IF NOT EXISTS bench_fanout (id text PRIMARY KEY, remaining int NOT NULL)");
  await admin.end();
  listener = new pg.Client({ connectionString });
  await listener.connect();
  listener.on("notification", (n) => {
    const w = waiters.get(n.payload ?? "");
    if (w) {
      waiters.delete(n.payload ?? "");
      w();
    }
  });
  await listener.query("LISTEN bench_done");
  const runner = await gw.run({
    connectionString,
    noHandleSignals: true,
    taskList,
    logger: new gw.Logger(() => (level, message) => {
      if (level === "error") console.error(`graphile-worker: ${message}`);
    }),
    preset: { worker: GRAPHILE_SETTINGS },
  });
  return async () => {
    await runner.stop();
    await utils.release();
    await listener.end();
  };
}

await runDriver(
  {
    throughput: (config) =>
      measureThroughput(
        config,
        config.counts.throughputRuns,
        (i) => utils.addJob("bench_a", { n: i }),
        () => done.get("bench_c") ?? 0,
      ),
    dispatch: async (config) => {
      const runs = config.counts.dispatchRuns;
      for (let i = 0; i < Math.min(10, runs); i++) {
        const id = randomUUID();
        const w = waitDone(id);
        await utils.addJob("bench_a", { n: i, id, notify: true });
        await w;
      }
      stamps = { readyToHeld: [] };
      for (let i = 0; i < runs; i++) {
        anchorWallClock();
        const id = randomUUID();
        const w = waitDone(id);
        await utils.addJob("bench_a", { n: i, id, notify: true });
        await w;
      }
      const d = distribution(stamps.readyToHeld);
      stamps = undefined;
      return { metrics: { p50Ms: d.p50, p99Ms: d.p99 }, details: { readyToHeld: d, readyTime: "job.run_at (set by add_job) + 0.5 ms" } };
    },
    startAndWait: async (config) => {
      const lat: number[] = [];
      const runs = config.counts.startAndWaitRuns;
      for (let i = -Math.min(10, runs); i < runs; i++) {
        const id = randomUUID();
        const t = nowMs();
        const w = waitDone(id);
        await utils.addJob("bench_a", { n: i, id, notify: true });
        await w;
        if (i >= 0) lat.push(nowMs() - t);
      }
      const d = distribution(lat);
      return { metrics: { p50Ms: d.p50, p99Ms: d.p99 }, details: { latency: d, how: "add_job, then LISTEN for a NOTIFY sent by the third job" } };
    },
    fanout: async (config) => {
      const metrics: Record<string, number> = {};
      const c = new pg.Client({ connectionString: config.endpoint["databaseUrl"]! });
      await c.connect();
      try {
        for (const [label, branches] of [
          ["warm", 10],
          ["small", config.counts.fanoutSmall],
          ["large", config.counts.fanoutLarge],
        ] as const) {
          const id = randomUUID();
          await c.query("INSERT INTO bench_fanout (id, remaining) VALUES ($1, $2)", [id, branches]);
          const t0 = nowMs();
          const w = waitDone(id);
          await utils.addJob("bench_fork", { n: 0, fanout: id, count: branches });
          await w;
          if (label === "warm") continue;
          const seconds = (nowMs() - t0) / 1000;
          metrics[`${label}Seconds`] = round(seconds, 2);
          metrics[`${label}BranchesPerSecond`] = round(branches / seconds, 0);
        }
      } finally {
        await c.end();
      }
      metrics["timeRatio"] = round(metrics["largeSeconds"]! / metrics["smallSeconds"]!, 2);
      return { metrics, details: { how: "one job adds N jobs; a counter row's last decrement adds the join job" } };
    },
    backlog: notApplicable("graphile-worker's tables were not filled by this bench (Baton's filler writes Baton's schema)"),
    replicas: notApplicable("graphile-worker has no server to replicate (its workers are the scale-out unit)"),
    memory: notApplicable("graphile-worker has no long-running runs to hold in memory"),
    polyglot: notApplicable("Baton-only scenario"),
    console: notApplicable("Baton-only scenario"),
  },
  setup,
);
