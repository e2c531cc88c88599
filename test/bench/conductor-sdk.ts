// The same Conductor SDK worker against any server that speaks Conductor's
// REST API (Conductor 3.x, or Baton's /api): Conductor's JavaScript SDK
// (@io-orkes/conductor-javascript, unchanged) runs no-op workers for the
// 3-step flow with the long-poll batch call (batchPollingTimeout) and no
// poll interval to speak of; runs are started over REST. Measures task
// completions/s, and dispatch latency as the server itself stamps it on each
// task: scheduledTime (ready) to startTime (handed to the worker).
import { TaskManager, createConductorClient, type ConductorWorker } from "@io-orkes/conductor-javascript";
import { SEQ3, TASK_TYPES, taskDefs } from "./lib/baton.js";
import { distribution, nowMs, pool, round, sleep } from "./lib/util.js";

/** No run completing for this long: the rest are taken as lost (the SDK gave up on their results). */
const STALL_MS = 30_000;

export interface SdkBenchOptions {
  /** http://host:port of the server (its REST API is under /api). */
  base: string;
  runs: number;
  dispatchRuns: number;
  /** Worker concurrency per task type. */
  concurrency: number;
  startConcurrency: number;
  /** nowMs() by which to give up. */
  deadline: number;
  log?: (line: string) => void;
}

async function rest<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const r = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { "content-type": "application/json" },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(60_000),
  });
  const text = await r.text();
  if (!r.ok) throw new Error(`${method} ${path}: HTTP ${r.status} ${text.slice(0, 300)}`);
  try {
    return (text ? JSON.parse(text) : undefined) as T;
  } catch {
    return text as T;
  }
}

interface RunView {
  status: string;
  tasks: { scheduledTime: number; startTime: number }[];
}

export async function runConductorSdkBench(
  o: SdkBenchOptions,
): Promise<{ metrics: Record<string, number>; details: Record<string, unknown>; status?: "partial"; reason?: string }> {
  await rest(o.base, "POST", "/api/metadata/taskdefs", taskDefs);
  await rest(o.base, "PUT", "/api/metadata/workflow", [SEQ3]);
  const client = await createConductorClient({ serverUrl: o.base, refreshTokenInterval: 0 });
  let completed = 0;
  const workers: ConductorWorker[] = TASK_TYPES.map((type) => ({
    taskDefName: type,
    execute: async (task) => {
      if (type === "bench_c") completed++;
      return { status: "COMPLETED", outputData: { n: Number(task.inputData?.["n"] ?? 0) + 1 } };
    },
  }));
  const manager = new TaskManager(client, workers, {
    options: { concurrency: o.concurrency, pollInterval: 1, batchPollingTimeout: 1000, workerID: "bench-sdk" },
    logger: { info: () => {}, debug: () => {}, error: (...args: unknown[]) => o.log?.(`sdk error: ${args.map(String).join(" ").slice(0, 200)}`) } as never,
  });
  manager.startPolling();
  const start = (n: number) => rest<string>(o.base, "POST", `/api/workflow/${SEQ3.name}?version=1`, { n });
  // A run whose task result the SDK lost (it gives up after 4 failed updates) never ends: give up on it.
  const waitEnded = async (id: string): Promise<RunView> => {
    const giveUp = Math.min(o.deadline, nowMs() + STALL_MS);
    for (;;) {
      const run = await rest<RunView>(o.base, "GET", `/api/workflow/${id}?includeTasks=true`);
      if (run.status !== "RUNNING" || nowMs() > giveUp) return run;
      await sleep(2);
    }
  };
  try {
    // Warm up: a few runs end to end.
    for (let i = 0; i < 5; i++) await waitEnded(await start(i));
    // Throughput: every run started at once (bounded in flight), until the last step of each completed.
    const before = completed;
    const t0 = nowMs();
    await pool(o.runs, o.startConcurrency, (i) => start(i));
    // Until every run completed, or none completed for STALL_MS (runs whose results were lost never will).
    let seen = completed;
    let lastProgress = nowMs();
    while (completed - before < o.runs && nowMs() < o.deadline && nowMs() - lastProgress < STALL_MS) {
      await sleep(5);
      if (completed !== seen) [seen, lastProgress] = [completed, nowMs()];
    }
    const stalled = completed - before < o.runs && nowMs() - lastProgress >= STALL_MS;
    const seconds = ((stalled ? lastProgress : nowMs()) - t0) / 1000;
    const done = completed - before;
    // Dispatch: one run at a time, each task's wait from ready to handed out, as the server stamped it.
    const waits: number[] = [];
    let stuck = 0;
    for (let i = 0; i < o.dispatchRuns && nowMs() < o.deadline; i++) {
      const run = await waitEnded(await start(i));
      if (run.status === "RUNNING") stuck++;
      else if (run.status !== "COMPLETED") throw new Error(`run ended ${run.status}`);
      for (const t of run.tasks) if (t.startTime > 0) waits.push(Math.max(0, t.startTime - t.scheduledTime));
    }
    const d = distribution(waits);
    const metrics = {
      tasksPerSecond: round((done * TASK_TYPES.length) / seconds, 0),
      runsPerSecond: round(done / seconds, 0),
      p50Ms: d.p50,
      p99Ms: d.p99,
    };
    const details = {
      runs: o.runs,
      completedRuns: done,
      dispatch: d,
      worker: "@io-orkes/conductor-javascript TaskManager, batch poll (long poll 1000 ms), pollInterval 1 ms, update-v2",
      concurrency: o.concurrency,
      how: "dispatch = task.startTime - task.scheduledTime, stamped by the server (ms)",
    };
    if (done < o.runs || stuck > 0) {
      const why = stalled
        ? `none completed for ${STALL_MS / 1000} s after that (throughput counted to the last completion; the SDK logs results it lost)`
        : "before the deadline";
      return { metrics, details, status: "partial", reason: `${done} of ${o.runs} runs completed ${why}; ${stuck} dispatch runs did not end` };
    }
    return { metrics, details };
  } finally {
    await manager.stopPolling();
    await sleep(1200);
  }
}
