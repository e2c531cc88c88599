// The fairness scenario: one key floods the queue while another starts a
// few runs. Measures the small key's dispatch latency (its task becoming
// ready -> a worker holding it) alone and under the flood, and the flood's
// drain rate keyed (claimed round-robin across keys) against the same flood
// unkeyed (claimed in plain priority/age order).
import type { BatonClient } from "@baton/client";
import { noopWorkers, type ServerProcess } from "../lib/baton.js";
import type { BenchOptions } from "../lib/types.js";
import { anchorWallClock, distribution, nowMs, pool, round, until } from "../lib/util.js";

const TYPE = "bench_fair";
const flow = (name: string, keyed: boolean) => ({
  name,
  version: 1,
  schemaVersion: 2,
  ...(keyed ? { fairnessKey: "${workflow.input.tenant}" } : {}),
  tasks: [{ name: TYPE, taskReferenceName: "work", type: "SIMPLE", inputParameters: { n: "${workflow.input.n}" } }],
});
const KEYED = flow("bench_fair_keyed", true);
const PLAIN = flow("bench_fair_plain", false);

interface FairEnv {
  deadline: number;
  servers: ServerProcess[];
  clients: BatonClient[];
}

export function fairnessBody(options: BenchOptions) {
  return async (env: FairEnv) => {
    const { counts, log } = options;
    const client = env.clients[0]!;
    const address = env.servers[0]!.address;
    await client.registerTaskDefs([{ name: TYPE, retryCount: 0, responseTimeoutSeconds: 600 }]);
    await client.registerWorkflowDef(KEYED);
    await client.registerWorkflowDef(PLAIN);
    const left = () => Math.round(Math.max(1000, env.deadline - nowMs()));

    /**
     * Starts the small key's runs (8 at a time) and returns each task's ready -> held latency, split at the
     * claim that leased it (its startTime): ready -> claimed is the queue and the fair claim, claimed -> held
     * is the claim statement, the dispatch stream and the worker's process.
     */
    const smallKey = async (stamps: Map<string, number>, tag: string) => {
      anchorWallClock();
      const ids = await pool(counts.fairnessSmall, 8, (i) => client.startWorkflow(KEYED.name, { tenant: `small-${tag}`, n: i }));
      const runs = await Promise.all(ids.map((id) => client.waitWorkflow(id, left(), true)));
      const split = { latency: [] as number[], toClaim: [] as number[], toWorker: [] as number[] };
      for (const run of runs)
        for (const t of run.tasks) {
          const held = stamps.get(t.taskId);
          if (held === undefined) continue;
          split.latency.push(held - (t.scheduledTime + 0.5));
          split.toClaim.push(t.startTime - t.scheduledTime);
          split.toWorker.push(held - (t.startTime + 0.5));
        }
      return split;
    };
    type Split = Awaited<ReturnType<typeof smallKey>>;
    /** Queues `n` runs with no worker attached; returns how long the queue then takes to drain with workers. */
    const flood = async (name: string, n: number, whileDraining?: (stamps: Map<string, number>) => Promise<Split>) => {
      log(`  queueing ${n} runs of ${name}`);
      await pool(n, counts.startConcurrency, (i) => client.startWorkflow(name, { tenant: "big", n: i }));
      const stamps = { received: new Map<string, number>(), returned: new Map<string, number>() };
      const workers = noopWorkers(address, { concurrency: counts.concurrency, workerId: `bench-fair-${name}`, types: [TYPE], stamps });
      const t0 = nowMs();
      try {
        const small = whileDraining ? whileDraining(stamps.received) : Promise.resolve(undefined);
        const drained = await until(() => (workers.counts.get(TYPE) ?? 0) >= n, left(), 20);
        const seconds = (nowMs() - t0) / 1000;
        return { seconds, drained, small: await small, done: workers.counts.get(TYPE) ?? 0 };
      } finally {
        await workers.stop();
      }
    };

    // The small key alone.
    const alone = { received: new Map<string, number>(), returned: new Map<string, number>() };
    const idle = noopWorkers(address, { concurrency: counts.concurrency, workerId: "bench-fair-alone", types: [TYPE], stamps: alone });
    let unloaded: Split;
    try {
      await smallKey(alone.received, "warm");
      unloaded = await smallKey(alone.received, "alone");
    } finally {
      await idle.stop();
    }
    // The same small key while another key's flood drains, then the flood unkeyed.
    const keyed = await flood(KEYED.name, counts.fairnessFlood, (stamps) => smallKey(stamps, "flood"));
    const plain = await flood(PLAIN.name, counts.fairnessFlood);
    const a = distribution(unloaded.latency);
    const b = distribution(keyed.small?.latency ?? []);
    const keyedRate = keyed.done / keyed.seconds;
    const plainRate = plain.done / plain.seconds;
    return {
      metrics: {
        smallAloneP50Ms: a.p50,
        smallAloneP99Ms: a.p99,
        smallUnderFloodP50Ms: b.p50,
        smallUnderFloodP99Ms: b.p99,
        p50Ratio: round(b.p50 / a.p50, 2),
        p99Ratio: round(b.p99 / a.p99, 2),
        floodKeyedTasksPerSecond: round(keyedRate, 0),
        floodUnkeyedTasksPerSecond: round(plainRate, 0),
        keyedOverUnkeyed: round(keyedRate / plainRate, 3),
      },
      details: {
        flood: counts.fairnessFlood,
        small: counts.fairnessSmall,
        alone: a,
        underFlood: b,
        // Where the time went: ready -> claimed, claimed -> held by the handler.
        aloneToClaim: distribution(unloaded.toClaim),
        aloneToWorker: distribution(unloaded.toWorker),
        underFloodToClaim: distribution(keyed.small?.toClaim ?? []),
        underFloodToWorker: distribution(keyed.small?.toWorker ?? []),
        keyedSeconds: keyed.seconds,
        unkeyedSeconds: plain.seconds,
      },
      ...(keyed.drained && plain.drained ? {} : { status: "partial" as const, reason: "a flood did not drain before the deadline" }),
    };
  };
}
