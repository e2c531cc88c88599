// Conductor's driver: the very same WorkflowDef JSON as Baton's (Baton runs
// Conductor's format unchanged), started over Conductor's REST API, with
// no-op workers batch-polling its REST API (long poll, as Conductor's own
// clients do) and posting results.
import { FANOUT, SEQ3, WAITING, fanoutInput, taskDefs } from "../lib/baton.js";
import { anchorWallClock, distribution, nowMs, round, sleep, wallMs } from "../lib/util.js";
import { deadline, measureThroughput, measureWaitingMemory, notApplicable, runDriver, type DriverConfig } from "./driver.js";

interface CTask {
  taskId: string;
  workflowInstanceId: string;
  taskDefName: string;
  scheduledTime: number;
  inputData: { n?: number };
}

const acked = new Map<string, number>();
let stamps: number[] | undefined;

async function call<T>(base: string, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await fetch(`${base}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(timeoutMs),
      });
      const text = await r.text();
      if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status} ${text.slice(0, 300)}`);
      if (!text) return undefined as T;
      try {
        return JSON.parse(text) as T;
      } catch {
        return text as T;
      }
    } catch (error) {
      // Connection hiccups under load: retry a few times, as a client would.
      if (attempt >= 5 || (error instanceof Error && /HTTP [45]\d\d/.test(error.message))) throw error;
      await sleep(50 * (attempt + 1));
    }
  }
}

/** Pollers for one task type against one server: `loops` long-polling loops of `batch` tasks each. */
function pollers(base: string, type: string, loops: number, batch: number, stop: { stopped: boolean }): Promise<void>[] {
  return Array.from({ length: loops }, async (_, l) => {
    while (!stop.stopped) {
      let tasks: CTask[];
      try {
        tasks = (await call<CTask[]>(base, "GET", `/api/tasks/poll/batch/${type}?workerid=bench-${l}&count=${batch}&timeout=100`)) ?? [];
      } catch {
        await sleep(100);
        continue;
      }
      const at = wallMs();
      if (stamps) for (const t of tasks) stamps.push(at - (t.scheduledTime + 0.5));
      await Promise.all(
        tasks.map(async (t) => {
          await call(base, "POST", "/api/tasks", {
            workflowInstanceId: t.workflowInstanceId,
            taskId: t.taskId,
            status: "COMPLETED",
            outputData: { n: (t.inputData.n ?? 0) + 1 },
            workerId: `bench-${l}`,
          });
          acked.set(type, (acked.get(type) ?? 0) + 1);
        }),
      );
    }
  });
}

function workers(bases: string[], types: string[], concurrency: number) {
  const stop = { stopped: false };
  const loopsPerType = Math.max(1, Math.min(8, concurrency));
  const batch = Math.max(1, Math.floor(concurrency / loopsPerType));
  const all = bases.flatMap((base) => types.flatMap((type) => pollers(base, type, Math.max(1, Math.round(loopsPerType / bases.length)), batch, stop)));
  return async () => {
    stop.stopped = true;
    // Pollers in the middle of a slow request end on their own; do not hold the scenario for them.
    await Promise.race([Promise.all(all), sleep(5000)]);
  };
}

const startRun = (base: string, name: string, input: unknown) => call<string>(base, "POST", `/api/workflow/${name}?version=1`, input);

async function waitEnded(base: string, id: string, everyMs: number, timeoutMs: number): Promise<string> {
  const deadline = nowMs() + timeoutMs;
  for (;;) {
    // A server too busy to answer in 10 s counts as "still running".
    const wf = await call<{ status: string }>(base, "GET", `/api/workflow/${id}?includeTasks=false`, undefined, 10_000).catch(() => ({ status: "RUNNING" }));
    if (wf.status !== "RUNNING" && wf.status !== "PAUSED") return wf.status;
    if (nowMs() > deadline) return wf.status;
    if (everyMs > 0) await sleep(everyMs);
  }
}

async function setup(config: DriverConfig) {
  const base = config.endpoint["base"]!;
  await call(base, "POST", "/api/metadata/taskdefs", taskDefs);
  await call(base, "PUT", "/api/metadata/workflow", [SEQ3, FANOUT, WAITING]);
  return async () => {};
}

const TYPES = ["bench_a", "bench_b", "bench_c"];

async function throughputOn(config: DriverConfig, bases: string[], runs: number) {
  const stop = workers(bases, TYPES, config.counts.concurrency);
  try {
    return await measureThroughput(config, runs, (i) => startRun(bases[Math.abs(i) % bases.length]!, SEQ3.name, { n: i }), () => acked.get("bench_c") ?? 0);
  } finally {
    await stop();
  }
}

await runDriver(
  {
    throughput: (config) => throughputOn(config, [config.endpoint["base"]!], config.counts.throughputRuns),
    replicas: async (config) => {
      const base2 = config.endpoint["base2"];
      if (!base2) return { metrics: {}, status: "not run", reason: "the second Conductor server was not started" };
      const out = await throughputOn(config, [config.endpoint["base"]!, base2], config.counts.replicaRuns);
      return { ...out, details: { ...out.details, replicas: 2 } };
    },
    dispatch: async (config) => {
      const base = config.endpoint["base"]!;
      const stop = workers([base], TYPES, 1);
      try {
        for (let i = 0; i < Math.min(10, config.counts.dispatchRuns); i++) await waitEnded(base, await startRun(base, SEQ3.name, { n: i }), 0, 30_000);
        stamps = [];
        for (let i = 0; i < config.counts.dispatchRuns; i++) {
          anchorWallClock();
          const id = await startRun(base, SEQ3.name, { n: i });
          const status = await waitEnded(base, id, 2, 30_000);
          if (status !== "COMPLETED") throw new Error(`run ${id} ended ${status}`);
        }
        const d = distribution(stamps);
        return { metrics: { p50Ms: d.p50, p99Ms: d.p99 }, details: { readyToHeld: d, readyTime: "task.scheduledTime + 0.5 ms; workers batch-poll with a 100 ms long poll" } };
      } finally {
        stamps = undefined;
        await stop();
      }
    },
    startAndWait: async (config) => {
      const base = config.endpoint["base"]!;
      const stop = workers([base], TYPES, 4);
      const lat: number[] = [];
      try {
        for (let i = -Math.min(10, config.counts.startAndWaitRuns); i < config.counts.startAndWaitRuns; i++) {
          const t = nowMs();
          const id = await startRun(base, SEQ3.name, { n: i });
          const status = await waitEnded(base, id, 0, 30_000);
          if (status !== "COMPLETED") throw new Error(`run ${id} ended ${status}`);
          if (i >= 0) lat.push(nowMs() - t);
        }
      } finally {
        await stop();
      }
      const d = distribution(lat);
      return {
        metrics: { p50Ms: d.p50, p99Ms: d.p99 },
        details: { latency: d, how: "POST /api/workflow, then GET /api/workflow/{id} back to back until it ends (Conductor 3.15 has no start-and-wait call)" },
      };
    },
    fanout: async (config) => {
      const base = config.endpoint["base"]!;
      const stop = workers([base], ["bench_item"], config.counts.concurrency);
      const metrics: Record<string, number> = {};
      let reason: string | undefined;
      try {
        for (const [label, branches] of [["warm", 10], ["small", config.counts.fanoutSmall], ["large", config.counts.fanoutLarge]] as const) {
          const input = fanoutInput(branches);
          const t0 = nowMs();
          const id = await startRun(base, FANOUT.name, input);
          const status = await waitEnded(base, id, 50, Math.max(1000, deadline() - nowMs()));
          const seconds = (nowMs() - t0) / 1000;
          if (status !== "COMPLETED") {
            reason = `${branches}-branch run ${status === "RUNNING" ? `still running after ${round(seconds, 0)} s` : `ended ${status}`}`;
            break;
          }
          if (label === "warm") continue;
          metrics[`${label}Seconds`] = round(seconds, 2);
          metrics[`${label}BranchesPerSecond`] = round(branches / seconds, 0);
        }
      } finally {
        await stop();
      }
      if (metrics["smallSeconds"] && metrics["largeSeconds"]) metrics["timeRatio"] = round(metrics["largeSeconds"] / metrics["smallSeconds"], 2);
      return { metrics, details: { how: "the same FORK_JOIN_DYNAMIC + JOIN definition as Baton's" }, ...(reason ? { status: "partial" as const, reason } : {}) };
    },
    memory: (config) =>
      measureWaitingMemory(
        config,
        "the Conductor JVM",
        "the Conductor JVM (-Xms512m -Xmx2g); Redis holds the state and is not counted, as PostgreSQL is not for Baton",
        (i) => startRun(config.endpoint["base"]!, WAITING.name, { i }),
      ),
    backlog: notApplicable("Conductor's Redis store was not filled by this bench (Baton's filler writes Baton's schema)"),
    polyglot: notApplicable("Baton-only scenario"),
    console: notApplicable("Baton-only scenario"),
    conductorSdk: async (config) => {
      const { runConductorSdkBench } = await import("../conductor-sdk.js");
      return runConductorSdkBench({
        base: config.endpoint["base"]!,
        runs: config.counts.throughputRuns,
        dispatchRuns: config.counts.dispatchRuns,
        concurrency: config.counts.concurrency,
        startConcurrency: config.counts.startConcurrency,
        deadline: deadline(),
        log: (line) => console.error(`  conductor sdk: ${line}`),
      });
    },
  },
  setup,
);


