// Conductor's driver: the very same WorkflowDef JSON as Baton's (Baton runs
// Conductor's format unchanged), started over Conductor's REST API, with
// no-op workers batch-polling its REST API (long poll, as Conductor's own
// clients do) and posting results.
import { FANOUT, SEQ3, WAITING, fanoutInput, taskDefs } from "../lib/baton.js";
import { anchorWallClock, distribution, errorText, nowMs, round, sleep, wallMs } from "../lib/util.js";
import { deadline, fanoutRuns, measureThroughput, measureWaitingMemory, notApplicable, progress, runDriver, type DriverConfig } from "./driver.js";

interface CTask {
  taskId: string;
  workflowInstanceId: string;
  taskDefName: string;
  scheduledTime: number;
  inputData: { n?: number };
}

const acked = new Map<string, number>();
let stamps: number[] | undefined;
/** Round trips of task updates (POST /api/tasks), ms, while a fan-out runs: Conductor decides the run on each. */
let updateMs: number[] | undefined;

async function call<T>(base: string, method: string, path: string, body?: unknown, timeoutMs = 60_000): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      const r = await fetch(`${base}${path}`, {
        method,
        headers: body === undefined ? {} : { "content-type": "application/json" },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.timeout(Math.round(timeoutMs)),
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
      const timedOut = error instanceof Error && error.name === "TimeoutError";
      // A request the server may have acted on (it timed out, or it answered an error) is not sent again:
      // a start sent twice is two runs. Connection hiccups under load are retried a few times, as a client would.
      if (timedOut) throw new Error(`${method} ${path.split("?")[0]}: Conductor did not answer within ${Math.round(timeoutMs / 1000)} s`);
      if (attempt >= 5 || (error instanceof Error && /HTTP [45]\d\d/.test(error.message))) throw error;
      await sleep(50 * (attempt + 1));
    }
  }
}

/**
 * One task type's worker against one server, shaped as Conductor's Java client
 * runs a worker: `slots` tasks in hand at most; a polling loop asks
 * for as many tasks as it has free slots (batch poll, long-polled for up to
 * 100 ms), hands each to its own execution and polls again at once without
 * waiting for the batch to be done (the client's polling interval only applies
 * when a poll came back empty, and the long poll already waited).
 */
function worker(base: string, type: string, slots: number, workerId: string, stop: { stopped: boolean }): Promise<void> {
  let free = slots;
  let freed: (() => void) | undefined;
  const execute = async (t: CTask) => {
    const t0 = nowMs();
    try {
      await call(base, "POST", "/api/tasks", {
        workflowInstanceId: t.workflowInstanceId,
        taskId: t.taskId,
        status: "COMPLETED",
        outputData: { n: (t.inputData.n ?? 0) + 1 },
        workerId,
      });
      acked.set(type, (acked.get(type) ?? 0) + 1);
      updateMs?.push(nowMs() - t0);
    } catch (error) {
      // Left to Conductor: the task times out and is retried per its task definition.
      console.error(`  conductor worker: update of ${type} ${t.taskId} failed: ${String(error)}`);
    } finally {
      free++;
      freed?.();
    }
  };
  return (async () => {
    while (!stop.stopped) {
      if (free === 0) {
        await new Promise<void>((r) => (freed = r));
        freed = undefined;
        continue;
      }
      let tasks: CTask[];
      try {
        tasks = (await call<CTask[]>(base, "GET", `/api/tasks/poll/batch/${type}?workerid=${workerId}&count=${free}&timeout=100`)) ?? [];
      } catch {
        await sleep(100);
        continue;
      }
      const at = wallMs();
      if (stamps) for (const t of tasks) stamps.push(at - (t.scheduledTime + 0.5));
      free -= tasks.length;
      for (const t of tasks) void execute(t);
    }
  })();
}

/** A worker per task type per server, `concurrency` slots each (split between the servers). */
function workers(bases: string[], types: string[], concurrency: number) {
  const stop = { stopped: false };
  const slots = Math.max(1, Math.round(concurrency / bases.length));
  const all = bases.flatMap((base, b) => types.map((type) => worker(base, type, slots, `bench-${b}`, stop)));
  return async () => {
    stop.stopped = true;
    // Pollers in the middle of a slow request end on their own; do not hold the scenario for them.
    await Promise.race([Promise.all(all), sleep(5000)]);
  };
}

const startRun = (base: string, name: string, input: unknown, timeoutMs?: number) =>
  call<string>(base, "POST", `/api/workflow/${name}?version=1`, input, timeoutMs);

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
    return await measureThroughput(
      config,
      runs,
      (i) => startRun(bases[Math.abs(i) % bases.length]!, SEQ3.name, { n: i }),
      () => acked.get("bench_c") ?? 0,
    );
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
        return {
          metrics: { p50Ms: d.p50, p99Ms: d.p99 },
          details: { readyToHeld: d, readyTime: "task.scheduledTime + 0.5 ms; workers batch-poll for their free slots with a 100 ms long poll" },
        };
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
      const updates: Record<string, unknown> = {};
      let reason: string | undefined;
      try {
        for (const [label, branches] of fanoutRuns(config.counts)) {
          const input = fanoutInput(branches);
          const before = acked.get("bench_item") ?? 0;
          updateMs = [];
          // The large run waits at most twice linear from the small run's time (20x for 10x the branches), and 120 s:
          // beyond that, Conductor's growth is measured by then, and the full bench's time stays bounded.
          const budgetMs =
            label === "large" && metrics["smallSeconds"] ? Math.min(120_000, Math.max(60_000, 20_000 * metrics["smallSeconds"])) : Number.POSITIVE_INFINITY;
          const allowedMs = Math.max(1000, Math.min(budgetMs, deadline() - nowMs()));
          const t0 = nowMs();
          progress(config, `fanout: starting the ${branches}-branch run (${Math.round(allowedMs / 1000)} s allowed)`);
          // Conductor answers the start once it has decided the run's first step: here, after scheduling every branch.
          let id: string;
          try {
            id = await startRun(base, FANOUT.name, input, allowedMs);
          } catch (error) {
            const timedOut = /did not answer within/.test(errorText(error));
            reason =
              `${branches}-branch run: ${errorText(error)}` +
              (timedOut
                ? ` (the time allowed: ${Number.isFinite(budgetMs) ? "twice linear from the smaller run, at most 120 s" : "the scenario's deadline"}). ` +
                  `Conductor answers a start only after its first decision, which for this run schedules all ${branches} forked tasks (each written to the store and pushed to its queue)`
                : "");
            break;
          }
          const startSeconds = (nowMs() - t0) / 1000;
          progress(config, `fanout: the ${branches}-branch run's start answered in ${round(startSeconds, 1)} s; waiting for it to end`);
          let status = await waitEnded(base, id, 50, Math.max(1000, allowedMs - (nowMs() - t0)));
          // Every branch done but the run not ended: only its JOIN is left (a system task Conductor evaluates apart from
          // the updates, over all the forked tasks). Its end is then waited for, within the scenario's time, so the
          // figure is the run's whole time rather than a cut.
          const branchesDone = () => (acked.get("bench_item") ?? 0) - before;
          if (status === "RUNNING" && branchesDone() >= branches) {
            progress(config, `fanout: all ${branches} branches completed after ${round((nowMs() - t0) / 1000, 1)} s; waiting for the JOIN to end the run`);
            status = await waitEnded(base, id, 50, Math.max(1000, deadline() - nowMs()));
          }
          const seconds = (nowMs() - t0) / 1000;
          progress(
            config,
            `fanout: the ${branches}-branch run is ${status} after ${round(seconds, 1)} s, ${(acked.get("bench_item") ?? 0) - before} branches completed`,
          );
          const u = distribution(updateMs);
          updateMs = undefined;
          if (label !== "warm") updates[label] = { branches, startSeconds: round(startSeconds, 2), updateRoundTripMs: u };
          if (status !== "COMPLETED" && status !== "RUNNING") {
            const run = await call<{ reasonForIncompletion?: string }>(base, "GET", `/api/workflow/${id}?includeTasks=false`).catch(() => ({
              reasonForIncompletion: undefined,
            }));
            reason = `${branches}-branch run ended ${status}: ${run.reasonForIncompletion ?? "Conductor gave no reason"}`;
            break;
          }
          if (status !== "COMPLETED") {
            const doneBranches = branchesDone();
            if (doneBranches >= branches) {
              reason =
                `${branches}-branch run still running after ${round(seconds, 0)} s with all its branches completed: its JOIN (a system task ` +
                `Conductor evaluates apart from the updates, over all ${branches} forked tasks) had not ended it by the scenario's deadline; its start took ${round(startSeconds, 1)} s`;
              break;
            }
            reason =
              `${branches}-branch run still running after ${round(seconds, 0)} s (${Number.isFinite(budgetMs) ? "the time allowed: twice linear from the smaller run, at most 120 s" : "the scenario's deadline"}): ` +
              `${doneBranches} of ${branches} branches completed; its start took ${round(startSeconds, 1)} s. ` +
              `Conductor re-decides the whole run (all its tasks) on every task update, so each update costs more as the run grows: ` +
              `update round trip p50 ${u.p50} ms at ${branches} branches` +
              (metrics["smallSeconds"]
                ? ` (the ${config.counts.fanoutSmall}-branch run's: p50 ${(updates["small"] as { updateRoundTripMs: { p50: number } }).updateRoundTripMs.p50} ms)`
                : "");
            break;
          }
          if (label === "warm") continue;
          metrics[`${label}Seconds`] = round(seconds, 2);
          metrics[`${label}BranchesPerSecond`] = round(branches / seconds, 0);
          metrics[`${label}UpdateP50Ms`] = u.p50;
          metrics[`${label}StartSeconds`] = round(startSeconds, 2);
        }
      } finally {
        updateMs = undefined;
        await stop();
        // A run cut short (or whose start did not answer in time) still runs in Conductor: end it, so it does not load the
        // scenarios after this one; within the scenario's time.
        const left = await call<string[]>(base, "GET", `/api/workflow/running/${FANOUT.name}?version=1`, undefined, 10_000).catch(() => []);
        for (const id of left ?? []) {
          if (nowMs() > deadline() + 10_000) break;
          await call(base, "DELETE", `/api/workflow/${id}?reason=bench+fan-out+time+budget`, undefined, 5_000).catch(() => {});
        }
      }
      if (metrics["smallSeconds"] && metrics["largeSeconds"]) metrics["timeRatio"] = round(metrics["largeSeconds"] / metrics["smallSeconds"], 2);
      return {
        metrics,
        details: { how: "the same FORK_JOIN_DYNAMIC + JOIN definition as Baton's; workers as in throughput (64 slots)", updates },
        ...(reason ? { status: "partial" as const, reason } : {}),
      };
    },
    // Conductor keeps its runs in its store, not in the JVM: the 3.15 row measures the JVM's memory; 3.21 on
    // PostgreSQL skips it to keep the full bench's time bounded.
    memory: (config) =>
      config.system === "conductor-postgres"
        ? notApplicable(
            "measured on the Redis row (conductor): Conductor keeps waiting runs in its store, not in the JVM; skipped here to bound the bench's time",
          )(config)
        : measureWaitingMemory(
            config,
            "the Conductor JVM",
            "the Conductor JVM (-Xms512m -Xmx2g); Redis holds the state and is not counted, as PostgreSQL is not for Baton",
            (i) => startRun(config.endpoint["base"]!, WAITING.name, { i }),
          ),
    backlog: notApplicable("Conductor's Redis store was not filled by this bench (Baton's filler writes Baton's schema)"),
    polyglot: notApplicable("Baton-only scenario"),
    console: notApplicable("Baton-only scenario"),
    // The SDK (3.x) sends results to /tasks/update-v2, which Conductor has served since 3.21; 3.15 answers it 500
    // (not the 404/405 on which the SDK would fall back to /tasks), so the SDK loses every result there.
    conductorSdk: async (config) => {
      if (config.system === "conductor")
        return notApplicable(
          "run against conductor-postgres (Conductor 3.21.14): the JS SDK 3.x sends results to /tasks/update-v2, which 3.15 lacks and answers 500, so it loses every result",
        )(config);
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
