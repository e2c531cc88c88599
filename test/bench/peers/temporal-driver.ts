// Temporal's driver: the same flows as Baton's, as Temporal workflows over
// activities on one task queue. The workers are the Go worker built by the
// bring-up (a child process of this driver; its CPU is reported as the
// workers'); this process starts the workflows with the TS client.
import { randomUUID } from "node:crypto";
import { distribution, nowMs, round, sleep, until } from "../lib/util.js";
import { deadline, fanoutRuns, importFrom, measureThroughput, measureWaitingMemory, notApplicable, progress, runDriver, type DriverConfig } from "./driver.js";
import { startWorkerProcess, type WorkerProcess } from "./worker-process.js";

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

const TASK_QUEUE = "bench";
let client: TemporalClient;
let worker: WorkerProcess;

/** Worker settings: 64 slots per activity type as Baton's workers have; pollers raised from the SDK's 2 (see README). */
export function workerArgs(config: DriverConfig): string[] {
  const c = config.counts;
  return [
    "-address",
    config.endpoint["address"]!,
    "-task-queue",
    TASK_QUEUE,
    "-activity-slots",
    String(c.concurrency * 3),
    "-workflow-slots",
    String(c.concurrency),
    "-activity-pollers",
    "8",
    "-workflow-pollers",
    "8",
  ];
}

async function setup(config: DriverConfig) {
  const cm = await importFrom<ClientModule>(config.modulesDir, "@temporalio/client");
  const address = config.endpoint["address"]!;
  const connection = await cm.Connection.connect({ address });
  client = new cm.Client({ connection, namespace: "default" });
  worker = await startWorkerProcess("the Go worker", config.endpoint["workerBinary"]!, workerArgs(config), ["bench_a", "bench_b", "bench_c", "bench_item"]);
  return async () => {
    await worker.stop();
    await client.connection.close().catch(() => {});
  };
}

const start = (name: string, args: unknown[]) => client.workflow.start(name, { taskQueue: TASK_QUEUE, workflowId: randomUUID(), args });
const running = async () => (await client.workflow.count('ExecutionStatus="Running"')).count;

await runDriver(
  {
    throughput: async (config) => {
      const out = await measureThroughput(
        config,
        config.counts.throughputRuns,
        (i) => start("seq3", [i]),
        () => worker.done.get("bench_c") ?? 0,
      );
      // The runs end one workflow task after their last activity: wait for that too (not timed; visibility lags),
      // but not past the scenario's deadline.
      await until(async () => (await running()) === 0, Math.max(0, deadline() + 10_000 - nowMs()), 200);
      return out;
    },
    dispatch: async (config) => {
      const runs = config.counts.dispatchRuns;
      for (let i = 0; i < Math.min(10, runs); i++) await (await start("seq3", [i])).result();
      worker.stampsOn();
      for (let i = 0; i < runs; i++) await (await start("seq3", [i])).result();
      const d = distribution(await worker.stampsOff());
      return {
        metrics: { p50Ms: d.p50, p99Ms: d.p99 },
        details: {
          readyToHeld: d,
          readyTime: "the Go worker's clock holding the activity minus ActivityInfo.ScheduledTime (the attempt's, ns precision, same machine clock)",
        },
      };
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
      for (const [label, branches] of fanoutRuns(config.counts)) {
        const t0 = nowMs();
        const before = worker.done.get("bench_item") ?? 0;
        progress(config, `fanout: starting the ${branches}-branch run`);
        const handle = await start("fanout", [branches]);
        // Within the scenario's time: a run that cannot finish is reported with how far it got, not as a timeout.
        const ended = await Promise.race([handle.result().then(() => true), sleep(Math.max(1000, deadline() - nowMs())).then(() => false)]);
        if (!ended) {
          const done = (worker.done.get("bench_item") ?? 0) - before;
          return {
            metrics,
            status: "partial",
            reason: `${branches}-branch run not ended after ${round((nowMs() - t0) / 1000, 0)} s (the scenario's deadline): ${done} of ${branches} activities completed`,
          };
        }
        if (label === "warm") continue;
        const seconds = (nowMs() - t0) / 1000;
        progress(config, `fanout: the ${branches}-branch run ended after ${round(seconds, 1)} s`);
        metrics[`${label}Seconds`] = round(seconds, 2);
        metrics[`${label}BranchesPerSecond`] = round(branches / seconds, 0);
      }
      metrics["timeRatio"] = round(metrics["largeSeconds"]! / metrics["smallSeconds"]!, 2);
      return {
        metrics,
        details: {
          how: "one workflow runs N activities, at most 1,000 pending at once (the server refuses more than 2,000 per workflow), and awaits them all",
        },
      };
    },
    memory: (config) =>
      measureWaitingMemory(
        config,
        "the Temporal server",
        "the Temporal server process (frontend, history, matching, worker services); PostgreSQL holds the state and is not counted, as for Baton",
        () => start("waiting", []),
      ),
    backlog: notApplicable("Temporal's tables were not filled by this bench (Baton's filler writes Baton's schema)"),
    replicas: notApplicable("one Temporal server process with all four services; a cluster of them (membership, shard ownership) is not set up by this bench"),
    polyglot: notApplicable("Baton-only scenario"),
    console: notApplicable("Baton-only scenario"),
  },
  setup,
);
