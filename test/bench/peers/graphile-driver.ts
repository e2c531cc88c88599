// graphile-worker 0.17.3 on the bench's PostgreSQL: the raw job-queue
// reference. The 3-step flow is a chain of jobs (each adds the next); fan-out
// is a job adding N jobs with a counter row whose last decrement adds the join.
// It has no notion of a waiting run or a server of its own, so memory,
// backlog and replicas do not apply. Its runner is a process of its own
// (graphile-worker-process.ts); this process adds the jobs and listens.
import { randomUUID } from "node:crypto";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pg from "pg";
import { distribution, nowMs, round } from "../lib/util.js";
import { fanoutRuns, importFrom, measureThroughput, notApplicable, runDriver, type DriverConfig } from "./driver.js";
import type { GraphileWorker } from "./graphile-shared.js";
import { startWorkerProcess, type WorkerProcess } from "./worker-process.js";

let utils: Awaited<ReturnType<GraphileWorker["makeWorkerUtils"]>>;
let listener: pg.Client;
let worker: WorkerProcess;
const waiters = new Map<string, () => void>();

function waitDone(id: string): Promise<void> {
  return new Promise((resolve) => waiters.set(id, resolve));
}

async function setup(config: DriverConfig) {
  const gw = await importFrom<GraphileWorker>(config.modulesDir, "graphile-worker");
  const connectionString = config.endpoint["databaseUrl"]!;
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
  // The runner in a process of its own (not sharing this load generator's event loop), as it is deployed.
  worker = await startWorkerProcess(
    "graphile-worker's runner",
    process.execPath,
    [
      "--import",
      "tsx",
      path.join(path.dirname(fileURLToPath(import.meta.url)), "graphile-worker-process.ts"),
      JSON.stringify({ modulesDir: config.modulesDir, databaseUrl: connectionString }),
    ],
    ["bench_a", "bench_b", "bench_c", "bench_item"],
  );
  return async () => {
    await worker.stop();
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
        () => worker.done.get("bench_c") ?? 0,
      ),
    dispatch: async (config) => {
      const runs = config.counts.dispatchRuns;
      for (let i = 0; i < Math.min(10, runs); i++) {
        const id = randomUUID();
        const w = waitDone(id);
        await utils.addJob("bench_a", { n: i, id, notify: true });
        await w;
      }
      worker.stampsOn();
      for (let i = 0; i < runs; i++) {
        const id = randomUUID();
        const w = waitDone(id);
        await utils.addJob("bench_a", { n: i, id, notify: true });
        await w;
      }
      const d = distribution(await worker.stampsOff());
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
        for (const [label, branches] of fanoutRuns(config.counts)) {
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
