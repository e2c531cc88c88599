// The same Conductor SDK worker against any server that speaks Conductor's
// REST API (Conductor 3.x, or Baton's /api): Conductor's JavaScript SDK
// (@io-orkes/conductor-javascript, unchanged) runs no-op workers for the
// 3-step flow with the long-poll batch call (batchPollingTimeout), no poll
// interval to speak of and an HTTP connection per worker slot; runs are
// started over REST. Measures task
// completions/s (results the server accepted), and dispatch latency: from the
// task's scheduledTime (stamped by the server when it made the task ready) to
// the worker's handler holding it, on the same machine's clock. The server's
// own startTime says nothing here: Baton leases a task to a waiting worker in
// the very decision that makes it ready (both stamps equal), and delivers it
// when that decision commits.
import { inspect } from "node:util";
import { TaskManager, createConductorClient, type ConductorWorker } from "@io-orkes/conductor-javascript";
import { SEQ3, TASK_TYPES, taskDefs } from "./lib/baton.js";
import { anchorWallClock, distribution, nowMs, pool, round, sleep, wallMs } from "./lib/util.js";

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
}

/** What the SDK logs or reports as an error, readable: it throws the server's error body (an object) as it is. */
const describe = (value: unknown): string =>
  typeof value === "string" ? value : value instanceof Error ? value.message : inspect(value, { depth: 4, breakLength: Infinity });

export async function runConductorSdkBench(
  o: SdkBenchOptions,
): Promise<{ metrics: Record<string, number>; details: Record<string, unknown>; status?: "partial"; reason?: string }> {
  await rest(o.base, "POST", "/api/metadata/taskdefs", taskDefs);
  await rest(o.base, "PUT", "/api/metadata/workflow", [SEQ3]);
  // One HTTP connection per worker slot. The SDK's default is 10 for the whole process, shared by every worker:
  // 192 slots then queue behind 10 requests in the client, whichever the server, and the figure is that queue's.
  const slots = o.concurrency * TASK_TYPES.length;
  const client = await createConductorClient({ serverUrl: o.base, refreshTokenInterval: 0, maxHttp2Connections: slots });
  /** Runs whose last step's result the server accepted. */
  let completed = 0;
  /** Ready -> held by the handler, ms, while the dispatch part runs. */
  let waits: number[] | undefined;
  /** Distinct errors the SDK met (its messages and the server's bodies), with counts. */
  const errors = new Map<string, number>();
  /** Set when the scenario is over: the SDK still retries results it holds (for a minute), against a server gone. */
  let over = false;
  const noteError = (text: string) => {
    if (over) return;
    // Task and run ids apart, the same error is one entry.
    const key = text.replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/gi, "<id>").slice(0, 400);
    if (!errors.has(key) && errors.size >= 20) return;
    if (!errors.has(key)) o.log?.(`sdk error: ${key}`);
    errors.set(key, (errors.get(key) ?? 0) + 1);
  };
  const workers: ConductorWorker[] = TASK_TYPES.map((type) => ({
    taskDefName: type,
    execute: async (task) => {
      if (waits && task.scheduledTime) waits.push(Math.max(0, wallMs() - (task.scheduledTime + 0.5)));
      return { status: "COMPLETED", outputData: { n: Number(task.inputData?.["n"] ?? 0) + 1 } };
    },
  }));
  const manager = new TaskManager(client, workers, {
    options: { concurrency: o.concurrency, pollInterval: 1, batchPollingTimeout: 1000, workerID: "bench-sdk" },
    logger: { info: () => {}, debug: () => {}, error: (...args: unknown[]) => noteError(args.map(describe).join(" ")) } as never,
    eventListeners: [
      {
        onTaskUpdateCompleted: (e) => {
          if (e.taskType === "bench_c") completed++;
        },
        onTaskUpdateFailure: (e) => noteError(`result lost for a ${e.taskType} task after ${e.retryCount} attempts: ${describe(e.cause)}`),
      },
    ],
  });
  manager.startPolling();
  const start = (n: number) => rest<string>(o.base, "POST", `/api/workflow/${SEQ3.name}?version=1`, { n });
  // A run whose task result the SDK lost (it gives up after 4 failed updates) never ends: give up on it.
  const waitEnded = async (id: string): Promise<RunView> => {
    const giveUp = Math.min(o.deadline, nowMs() + STALL_MS);
    for (;;) {
      const run = await rest<RunView>(o.base, "GET", `/api/workflow/${id}?includeTasks=false`);
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
    // Dispatch: one run at a time, each task's wait from ready to held by the worker's handler.
    anchorWallClock();
    const held: number[] = [];
    waits = held;
    let stuck = 0;
    for (let i = 0; i < o.dispatchRuns && nowMs() < o.deadline; i++) {
      const run = await waitEnded(await start(i));
      if (run.status === "RUNNING") stuck++;
      else if (run.status !== "COMPLETED") throw new Error(`run ended ${run.status}`);
    }
    waits = undefined;
    const d = distribution(held);
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
      httpConnections: slots,
      how: "dispatch = the handler's wall clock when it gets the task - (task.scheduledTime + 0.5 ms), one run at a time; completions = results the server accepted",
      ...(errors.size > 0 ? { sdkErrors: Object.fromEntries(errors) } : {}),
    };
    if (done < o.runs || stuck > 0) {
      const why = stalled
        ? `none completed for ${STALL_MS / 1000} s after that (throughput counted to the last completion; the SDK logs results it lost)`
        : "before the deadline";
      const firstError = errors.size > 0 ? `; the SDK's first error: ${[...errors.keys()][0]}` : "";
      return { metrics, details, status: "partial", reason: `${done} of ${o.runs} runs completed ${why}; ${stuck} dispatch runs did not end${firstError}` };
    }
    return { metrics, details };
  } finally {
    over = true;
    await manager.stopPolling();
    await sleep(1200);
  }
}
