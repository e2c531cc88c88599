// The fairness scenario: one key floods the queue while another starts a
// few runs. Measures the small key's dispatch latency (its task becoming
// ready -> a worker holding it) alone and under the flood, and the flood's
// drain rate keyed (claimed round-robin across keys) against the same flood
// unkeyed (claimed in plain priority/age order). The unkeyed leg carries the
// same side load, 100 runs started alongside of an unkeyed flow of another
// task type: otherwise the small key's starts, tasks and waits count against
// the keyed leg alone. Each drain counts the claim statements it took
// (pg_stat_statements): the unkeyed one must take only plain ones, or its
// rate is not the plain path's.
import type { BatonClient } from "@baton/client";
import { noopWorkers, type ServerProcess } from "../lib/baton.js";
import { statementCounts } from "../lib/postgres.js";
import type { BenchOptions } from "../lib/types.js";
import { anchorWallClock, distribution, nowMs, pool, round, until, wallMs } from "../lib/util.js";

const TYPE = "bench_fair";
const SIDE_TYPE = "bench_fair_side";
const flow = (name: string, keyed: boolean, type = TYPE) => ({
  name,
  version: 1,
  schemaVersion: 2,
  ...(keyed ? { fairnessKey: "${workflow.input.tenant}" } : {}),
  tasks: [{ name: type, taskReferenceName: "work", type: "SIMPLE", inputParameters: { n: "${workflow.input.n}" } }],
});
const KEYED = flow("bench_fair_keyed", true);
const PLAIN = flow("bench_fair_plain", false);
/** The unkeyed leg's side load, in place of the small key's runs. */
const SIDE = flow("bench_fair_side", false, SIDE_TYPE);
/** Runs of each flow drained before measuring. */
const WARM_UP_RUNS = 1000;
/** server/src/store/queue.ts's claim statements and fair-claim.ts's reads of the keys waiting, as pg_stat_statements shows them. */
const CLAIM_STATEMENTS = {
  fair: "WITH picked AS ( DELETE FROM baton.queue WHERE task_id = ANY(ARRAY(%",
  plain: "WITH picked AS ( DELETE FROM baton.queue WHERE task_id IN (%",
  keyReads: "% FROM baton.queue WHERE task_type = $1 AND fair_key >%",
};

interface FairEnv {
  deadline: number;
  databaseUrl: string;
  servers: ServerProcess[];
  clients: BatonClient[];
}

export function fairnessBody(options: BenchOptions) {
  return async (env: FairEnv) => {
    const { counts, log } = options;
    const client = env.clients[0]!;
    const address = env.servers[0]!.address;
    await client.registerTaskDefs([TYPE, SIDE_TYPE].map((name) => ({ name, retryCount: 0, responseTimeoutSeconds: 600 })));
    for (const def of [KEYED, PLAIN, SIDE]) await client.registerWorkflowDef(def);
    const left = () => Math.round(Math.max(1000, env.deadline - nowMs()));
    const claimStatements = () => statementCounts(env.databaseUrl, CLAIM_STATEMENTS);
    /** The claim statements between two counts, and the tasks each took. */
    const claimsBetween = (a: Awaited<ReturnType<typeof claimStatements>>, b: typeof a) => {
      const fair = b.fair.calls - a.fair.calls;
      const plain = b.plain.calls - a.plain.calls;
      const rows = b.fair.rows - a.fair.rows + (b.plain.rows - a.plain.rows);
      return { fair, plain, keyReads: b.keyReads.calls - a.keyReads.calls, tasksPerClaim: round(rows / Math.max(1, fair + plain), 1) };
    };

    /**
     * Starts the small key's runs (8 at a time) and returns each task's ready -> held latency, split at the
     * claim that leased it (its startTime): ready -> claimed is the queue and the fair claim, claimed -> held
     * is the claim statement, the dispatch stream and the worker's process.
     */
    const smallKey = async (stamps: Map<string, number>, tag: string, flowName = KEYED.name) => {
      anchorWallClock();
      const ids = await pool(counts.fairnessSmall, 8, (i) => client.startWorkflow(flowName, { tenant: `small-${tag}`, n: i }));
      const runs = await Promise.all(ids.map((id) => client.waitWorkflow(id, left(), true)));
      const split = { latency: [] as number[], toClaim: [] as number[], toWorker: [] as number[], taskIds: new Set<string>(), handedOff: 0, leases: 0 };
      for (const run of runs)
        for (const t of run.tasks) {
          split.taskIds.add(t.taskId);
          // Leased at commit (the hand-off: its start is its scheduling's instant) or claimed from the queue later;
          // leased more than once when it went back to the queue (a stream that ended, a task held too long).
          if (t.startTime === t.scheduledTime) split.handedOff++;
          split.leases += t.pollCount;
          const held = stamps.get(t.taskId);
          if (held === undefined) continue;
          split.latency.push(held - (t.scheduledTime + 0.5));
          split.toClaim.push(t.startTime - t.scheduledTime);
          split.toWorker.push(held - (t.startTime + 0.5));
        }
      return split;
    };
    type Split = Awaited<ReturnType<typeof smallKey>>;
    /**
     * Until these workers' dispatch streams are open on the server: the small key starts after, in both legs and
     * alone. Started before, its first tasks found no worker to be handed to and were queued, and its later tasks
     * queued behind them (a key with tasks queued takes its turn in the claims), a start no worker ever sees.
     */
    const subscribed = async (...workerIds: string[]) => {
      const open = async () => {
        const { workers } = await client.tasks.listWorkers({});
        return workerIds.every((id) => workers.some((w) => w.workerId === id && w.kind === "dispatch"));
      };
      if (!(await until(open, left(), 5))) throw new Error(`the workers ${workerIds.join(", ")} did not subscribe`);
    };
    const handedOffShare = (split: Split | undefined) =>
      split ? { tasks: split.taskIds.size, handedOff: split.handedOff, leasesPerTask: round(split.leases / Math.max(1, split.taskIds.size), 3) } : undefined;
    /** Queues `n` runs with no worker attached; returns how long the queue then takes to drain with workers (to the last of its tasks held). */
    const flood = async (name: string, n: number, whileDraining?: (stamps: Map<string, number>) => Promise<Split>) => {
      log(`  queueing ${n} runs of ${name}`);
      await pool(n, counts.startConcurrency, (i) => client.startWorkflow(name, { tenant: "big", n: i }));
      const counted = await claimStatements();
      const stamps = { received: new Map<string, number>(), returned: new Map<string, number>() };
      const workers = noopWorkers(address, { concurrency: counts.concurrency, workerId: `bench-fair-${name}`, types: [TYPE], stamps });
      // The side load's own worker, in the unkeyed leg only (a stream of its own: one stream for both types would
      // claim the side type at each credit; its claims are counted among the plain ones).
      const side = name === PLAIN.name ? noopWorkers(address, { concurrency: 8, workerId: "bench-fair-side", types: [SIDE_TYPE], stamps }) : undefined;
      const handled = () => (workers.counts.get(TYPE) ?? 0) + (side?.counts.get(SIDE_TYPE) ?? 0);
      const t0 = wallMs();
      try {
        if (whileDraining) await subscribed(`bench-fair-${name}`, ...(side ? ["bench-fair-side"] : []));
        const small = whileDraining ? whileDraining(stamps.received) : Promise.resolve(undefined);
        // The small key's (or side) tasks go through the same workers: drained once they and the whole flood are done
        // (counting to n alone stopped the workers with up to that many of the flood's tasks still queued).
        const total = n + (whileDraining ? counts.fairnessSmall : 0);
        const drained = await until(() => handled() >= total, left(), 20);
        const claims = claimsBetween(counted, await claimStatements());
        const split = await small;
        // The flood's own drain: to its last task held, whenever the small key's runs end.
        let last = t0;
        for (const [id, at] of stamps.received) if (!split?.taskIds.has(id)) last = Math.max(last, at);
        const done = stamps.received.size - (split?.taskIds.size ?? 0);
        return { seconds: (last - t0) / 1000, drained, small: split, done, claims };
      } finally {
        await Promise.all([workers.stop(), side?.stop()]);
      }
    };

    // Both paths warmed up first (JIT, caches), unmeasured: a cold server drained whichever flood went first at
    // half the rate of the next on the loaded bench machine, whichever path it took.
    const warm = Math.min(counts.fairnessFlood, WARM_UP_RUNS);
    await flood(KEYED.name, warm);
    await flood(PLAIN.name, warm);
    // The small key alone.
    const alone = { received: new Map<string, number>(), returned: new Map<string, number>() };
    const idle = noopWorkers(address, { concurrency: counts.concurrency, workerId: "bench-fair-alone", types: [TYPE], stamps: alone });
    let unloaded: Split;
    try {
      await subscribed("bench-fair-alone");
      await smallKey(alone.received, "warm");
      unloaded = await smallKey(alone.received, "alone");
    } finally {
      await idle.stop();
    }
    // The same small key while another key's flood drains, then the flood unkeyed.
    const keyed = await flood(KEYED.name, counts.fairnessFlood, (stamps) => smallKey(stamps, "flood"));
    const plain = await flood(PLAIN.name, counts.fairnessFlood, (stamps) => smallKey(stamps, "side", SIDE.name));
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
        // What decides most of it: the small key's tasks handed to a worker at commit (of all of them), and leases per task.
        aloneHandedOff: handedOffShare(unloaded),
        underFloodHandedOff: handedOffShare(keyed.small),
        underFloodToClaim: distribution(keyed.small?.toClaim ?? []),
        underFloodToWorker: distribution(keyed.small?.toWorker ?? []),
        keyedSeconds: keyed.seconds,
        unkeyedSeconds: plain.seconds,
        // Claim statements while each flood drained (fair, plain), the reads of the keys waiting, tasks per statement.
        keyedClaims: keyed.claims,
        unkeyedClaims: plain.claims,
      },
      ...(!keyed.drained || !plain.drained
        ? { status: "partial" as const, reason: "a flood did not drain before the deadline" }
        : plain.claims.fair > 0
          ? {
              status: "partial" as const,
              reason: `the unkeyed flood took ${plain.claims.fair} fair claim statements: keyedOverUnkeyed is not against the plain claim`,
            }
          : {}),
    };
  };
}
