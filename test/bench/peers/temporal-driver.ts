// Temporal's driver: the same flows as Baton's, as Temporal workflows over
// activities on one task queue, with a worker of the TS SDK in this process.
import { randomUUID } from "node:crypto";
import type { Counts } from "../lib/types.js";
import { anchorWallClock, distribution, nowMs, round, until, wallMs } from "../lib/util.js";
import { deadline, importFrom, measureThroughput, measureWaitingMemory, notApplicable, runDriver, type DriverConfig } from "./driver.js";

interface Handle {
  workflowId: string;
  result(): Promise<unknown>;
}
interface TemporalClient {
  workflow: {
    start(name: string, options: { taskQueue: string; workflowId: string; args: unknown[] }): Promise<Handle>;
    execute(name: string, options: { taskQueue: string; workflowId: string; args: unknown[] }): Promise<unknown>;
    count(query: string): Promise<{ count: number }>;
  };
  connection: { close(): Promise<void> };
}
interface ClientModule {
  Connection: { connect(o: { address: string }): Promise<unknown> };
  Client: new (o: { connection: unknown; namespace: string }) => TemporalClient;
}
interface WorkerModule {
  NativeConnection: { connect(o: { address: string }): Promise<{ close(): Promise<void> }> };
  Worker: { create(o: Record<string, unknown>): Promise<{ run(): Promise<void>; shutdown(): void }> };
  Runtime: { install(o: Record<string, unknown>): void };
  DefaultLogger: new (level: string) => unknown;
}
interface ActivityModule {
  Context: { current(): { info: { scheduledTimestampMs: number; currentAttemptScheduledTimestampMs?: number } } };
}

const TASK_QUEUE = "bench";
let client: TemporalClient;
const done = new Map<string, number>();
let stamps: number[] | undefined;

async function setup(config: DriverConfig) {
  const [cm, wm, am] = await Promise.all([
    importFrom<ClientModule>(config.modulesDir, "@temporalio/client"),
    importFrom<WorkerModule>(config.modulesDir, "@temporalio/worker"),
    importFrom<ActivityModule>(config.modulesDir, "@temporalio/activity"),
  ]);
  const address = config.endpoint["address"]!;
  wm.Runtime.install({ logger: new wm.DefaultLogger("WARN"), shutdownSignals: [] });
  const connection = await cm.Connection.connect({ address });
  client = new cm.Client({ connection, namespace: "default" });
  const count = (name: string) => done.set(name, (done.get(name) ?? 0) + 1);
  const stamp = () => {
    if (!stamps) return;
    const info = am.Context.current().info;
    stamps.push(wallMs() - ((info.currentAttemptScheduledTimestampMs ?? info.scheduledTimestampMs) + 0.5));
  };
  const activities = {
    bench_a: async (n: number) => (stamp(), count("bench_a"), n + 1),
    bench_b: async (n: number) => (stamp(), count("bench_b"), n + 1),
    bench_c: async (n: number) => (stamp(), count("bench_c"), n + 1),
    bench_item: async (i: number) => (count("bench_item"), i),
  };
  const nativeConnection = await wm.NativeConnection.connect({ address });
  const c: Counts = config.counts;
  const worker = await wm.Worker.create({
    connection: nativeConnection,
    namespace: "default",
    taskQueue: TASK_QUEUE,
    workflowsPath: config.endpoint["workflowsPath"],
    activities,
    maxConcurrentActivityTaskExecutions: c.concurrency * 3,
    maxConcurrentWorkflowTaskExecutions: c.concurrency,
  });
  const running = worker.run();
  return async () => {
    worker.shutdown();
    await running.catch(() => {});
    await nativeConnection.close().catch(() => {});
    await client.connection.close().catch(() => {});
  };
}

const start = (name: string, args: unknown[]) => client.workflow.start(name, { taskQueue: TASK_QUEUE, workflowId: randomUUID(), args });
const running = async () => (await client.workflow.count('ExecutionStatus="Running"')).count;

await runDriver(
  {
    throughput: async (config) => {
      const out = await measureThroughput(config, config.counts.throughputRuns, (i) => start("seq3", [i]), () => done.get("bench_c") ?? 0);
      // The runs end one workflow task after their last activity: wait for that too (not timed; visibility lags),
      // but not past the scenario's deadline.
      await until(async () => (await running()) === 0, Math.max(0, deadline() + 10_000 - nowMs()), 200);
      return out;
    },
    dispatch: async (config) => {
      const runs = config.counts.dispatchRuns;
      for (let i = 0; i < Math.min(10, runs); i++) await (await start("seq3", [i])).result();
      stamps = [];
      for (let i = 0; i < runs; i++) {
        anchorWallClock();
        await (await start("seq3", [i])).result();
      }
      const d = distribution(stamps);
      stamps = undefined;
      return { metrics: { p50Ms: d.p50, p99Ms: d.p99 }, details: { readyToHeld: d, readyTime: "activity info currentAttemptScheduledTimestampMs + 0.5 ms" } };
    },
    startAndWait: async (config) => {
      const lat: number[] = [];
      const runs = config.counts.startAndWaitRuns;
      for (let i = -Math.min(10, runs); i < runs; i++) {
        const t = nowMs();
        await client.workflow.execute("seq3", { taskQueue: TASK_QUEUE, workflowId: randomUUID(), args: [i] });
        if (i >= 0) lat.push(nowMs() - t);
      }
      const d = distribution(lat);
      return { metrics: { p50Ms: d.p50, p99Ms: d.p99 }, details: { latency: d, how: "client.workflow.execute (start, then wait for the result)" } };
    },
    fanout: async (config) => {
      const metrics: Record<string, number> = {};
      for (const [label, branches] of [["warm", 10], ["small", config.counts.fanoutSmall], ["large", config.counts.fanoutLarge]] as const) {
        const t0 = nowMs();
        await client.workflow.execute("fanout", { taskQueue: TASK_QUEUE, workflowId: randomUUID(), args: [branches] });
        if (label === "warm") continue;
        const seconds = (nowMs() - t0) / 1000;
        metrics[`${label}Seconds`] = round(seconds, 2);
        metrics[`${label}BranchesPerSecond`] = round(branches / seconds, 0);
      }
      metrics["timeRatio"] = round(metrics["largeSeconds"]! / metrics["smallSeconds"]!, 2);
      return { metrics, details: { how: "one workflow runs N activities, at most 1,000 pending at once (Temporal refuses more than 2,000), and awaits them all" } };
    },
    memory: (config) =>
      measureWaitingMemory(config, "the Temporal server", "temporal server start-dev (one process: frontend, history, matching, SQLite)", () => start("waiting", [])),
    backlog: notApplicable("Temporal's SQLite store was not filled by this bench (Baton's filler writes Baton's schema)"),
    replicas: notApplicable("the dev server is one process; a multi-node Temporal cluster (Cassandra/MySQL/PostgreSQL and four services) is not set up by this bench"),
    polyglot: notApplicable("Baton-only scenario"),
    console: notApplicable("Baton-only scenario"),
  },
  setup,
);
