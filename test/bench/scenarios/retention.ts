// The retention scenario (issue 19, part 3): what removing ended runs costs a
// busy server, and whether the tables stay bounded. A steady load of short
// runs (three worker steps, two log lines, inputs and outputs of about a KB
// each) on a server whose clock runs fast (lib/clock-server.ts), so that a
// leg lives through six retention periods or more (one hour, the shortest
// allowed, in at most 30 s), with the reaper on (BATON_RETENTION=1h) and off,
// the same load, clock and length, in legs ordered off, on, on, off (quick:
// off, on; or --retention-legs), each on a fresh database. The load is a
// closed loop (at most 64 runs in flight: it goes as fast as the machine
// lets it), or with --retention-rate an open one (runs started at a steady
// rate whatever is in flight: a bound on the tables shows only at a rate
// that does not follow the machine's load). The reaper keeps its real
// cadence (a pass every 60 s, the server's default; quick: a quarter of a
// leg).
//
// Latency on the bench's clock alone (the server's runs fast): a step's result
// returned -> the run's next step held by a worker, over the whole leg and
// over the moments a reaper transaction was seen open; a start call -> the
// run's first step held. Sampled from PostgreSQL: the four tables' sizes, live
// and dead tuples, autovacuums and rows deleted; the reaper's statement
// (pg_stat_statements: calls, rows, mean and max); every 25 ms, the reaper's
// open transaction (pg_stat_activity) and any backend waiting on a lock, with
// the pids blocking it. At the end of the last leg with the reaper on, runs of
// 300 tasks each, written by SQL, are removed by PurgeRuns: the transactions
// a batch makes of runs far larger than the load's.
import { loadavg } from "node:os";
import path from "node:path";
import pg from "pg";
import { BatonClient, Worker } from "@baton/client";
import { startServerProcess } from "../lib/baton.js";
import type { Cluster } from "../lib/postgres.js";
import { resetStatements } from "../lib/postgres.js";
import type { BenchOptions } from "../lib/types.js";
import { ROOT, cpuMeter, distribution, errorText, nowMs, round, sleep, until } from "../lib/util.js";

const TYPES = ["bench_ret_a", "bench_ret_b", "bench_ret_c"] as const;
const FLOW = {
  name: "bench_ret",
  version: 1,
  schemaVersion: 2,
  tasks: TYPES.map((type, i) => ({
    name: type,
    taskReferenceName: type,
    type: "SIMPLE",
    inputParameters: { n: "${workflow.input.n}", prev: i === 0 ? "${workflow.input.order}" : `\${${TYPES[i - 1]}.output}` },
  })),
  outputParameters: { result: "${bench_ret_c.output}" },
};
/** Runs that wait (a HUMAN task) for the whole leg: a reaper must never remove them. */
const HOLD = { name: "bench_ret_hold", version: 1, schemaVersion: 2, tasks: [{ name: "hold", taskReferenceName: "hold", type: "HUMAN" }] };
const HOLD_RUNS = 5;
/** The shortest retention the server allows (reaper.ts's MIN_RETENTION_SECONDS). */
const RETENTION_S = 3600;
/** Retention periods each leg lives through, at the least; a period lasts at most PERIOD_S of real time. */
const PERIODS = 6;
const PERIOD_S = 30;
const RELATIONS = ["runs", "tasks", "queue", "task_logs"] as const;
/** server/src/store/retention.ts's statements, as pg_stat_statements shows them: a batch's first picks its runs. */
const REAPER_STATEMENTS = ["WITH candidates AS%", "DELETE FROM baton.task_logs WHERE ctid%", "WITH tasks_gone AS%"];
/** A reaper batch's application_name while its transaction is open (server/src/store/retention.ts). */
const RETENTION_APPLICATION = "baton-retention";
/** Tasks of each large run removed by a purge at the end of the last leg with the reaper on. */
const LARGE_RUN_TASKS = 300;

/** A record of about a KB: what a step's input or output might carry (ids, a URL, a checksum, order lines). */
function record(n: number, what: string) {
  const hex = (i: number) => ((n * 2_654_435_761 + i * 40_503) >>> 0).toString(16).padStart(8, "0");
  return {
    id: `${what}-${n}`,
    url: `https://files.example.com/orders/${n}/${what}.json`,
    checksum: Array.from({ length: 8 }, (_, i) => hex(i)).join(""),
    lines: Array.from({ length: 12 }, (_, i) => ({
      sku: `SKU-${hex(i + 8).slice(0, 6)}`,
      quantity: ((n + i) % 7) + 1,
      priceCents: (n * 31 + i * 17) % 10_000,
      note: `line ${i} of order ${n}`,
    })),
  };
}

type Setting = "off" | "on";

interface TableSample {
  /** Seconds into the leg. */
  t: number;
  storedRuns: number;
  mb: Record<(typeof RELATIONS)[number], number>;
  dead: Record<(typeof RELATIONS)[number], number>;
  live: Record<(typeof RELATIONS)[number], number>;
  autovacuums: Record<(typeof RELATIONS)[number], number>;
  deleted: Record<(typeof RELATIONS)[number], number>;
  /** Index bytes alone (index bloat is not in the heap's dead tuples). */
  indexMb: Record<(typeof RELATIONS)[number], number>;
  /** The machine's 1-minute load average. */
  load: number;
}

async function sampleTables(c: pg.Client, t: number): Promise<TableSample> {
  const { rows } = await c.query<{ relname: string; bytes: string; index: string; live: string; dead: string; av: string; del: string }>(
    `SELECT s.relname, pg_total_relation_size(s.relid) AS bytes, pg_indexes_size(s.relid) AS index, s.n_live_tup AS live, s.n_dead_tup AS dead,
            s.autovacuum_count AS av, s.n_tup_del AS del
     FROM pg_stat_user_tables s WHERE s.schemaname = 'baton' AND s.relname = ANY($1::text[])`,
    [RELATIONS],
  );
  const stored = await c.query<{ n: string }>("SELECT count(*) AS n FROM baton.runs");
  const pick = (f: (r: (typeof rows)[number]) => number) =>
    Object.fromEntries(
      RELATIONS.map((name) => [
        name,
        f(rows.find((r) => r.relname === name) ?? ({ bytes: "0", index: "0", live: "0", dead: "0", av: "0", del: "0" } as never)),
      ]),
    ) as Record<(typeof RELATIONS)[number], number>;
  return {
    t: round(t, 1),
    storedRuns: Number(stored.rows[0]!.n),
    mb: pick((r) => round(Number(r.bytes) / 2 ** 20, 1)),
    dead: pick((r) => Number(r.dead)),
    live: pick((r) => Number(r.live)),
    autovacuums: pick((r) => Number(r.av)),
    deleted: pick((r) => Number(r.del)),
    indexMb: pick((r) => round(Number(r.index) / 2 ** 20, 1)),
    load: round(loadavg()[0]!, 1),
  };
}

/**
 * Every 25 ms: the reaper's open transaction (named by its application_name
 * while open; idle in transaction counts, as while it writes an export) and
 * every backend waiting on a lock, with whether a reaper blocks it. Returns
 * the stop function with what it saw.
 */
async function sampleReaper(url: string) {
  const c = new pg.Client({ connectionString: url, application_name: "bench-sampler" });
  await c.connect();
  let samples = 0;
  let reaperSamples = 0;
  let longestXactMs = 0;
  let lockWaitSamples = 0;
  let blockedByReaper = 0;
  let reaperWaited = 0;
  const waiting = new Map<string, number>();
  /** The bench's clock at each sample that saw a reaper transaction open. */
  const reaperAt: number[] = [];
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    const at = nowMs();
    c.query<{ pid: number; reaper: boolean; xact_ms: number | null; waiting: boolean; blockers: number[] | null; query: string }>(
      `SELECT a.pid, a.application_name = $1 AS reaper, extract(epoch FROM clock_timestamp() - a.xact_start) * 1000 AS xact_ms,
              a.wait_event_type = 'Lock' AS waiting, CASE WHEN a.wait_event_type = 'Lock' THEN pg_blocking_pids(a.pid) END AS blockers,
              left(regexp_replace(a.query, '\\s+', ' ', 'g'), 80) AS query
       FROM pg_stat_activity a
       WHERE a.datname = current_database() AND a.backend_type = 'client backend' AND a.pid <> pg_backend_pid() AND a.state <> 'idle'`,
      [RETENTION_APPLICATION],
    )
      .then(({ rows }) => {
        samples++;
        const reapers = rows.filter((r) => r.reaper && r.xact_ms !== null);
        if (reapers.length) {
          reaperSamples++;
          reaperAt.push(at);
          longestXactMs = Math.max(longestXactMs, ...reapers.map((r) => Number(r.xact_ms)));
        }
        const waits = rows.filter((r) => r.waiting);
        if (waits.length) lockWaitSamples++;
        for (const w of waits) {
          waiting.set(w.query, (waiting.get(w.query) ?? 0) + 1);
          if (w.reaper) reaperWaited++;
          if ((w.blockers ?? []).some((pid) => reapers.some((r) => r.pid === pid))) blockedByReaper++;
        }
      })
      .catch(() => {})
      .finally(() => (running = false));
  }, 25);
  return async () => {
    clearInterval(timer);
    await until(() => !running, 2000, 5);
    await c.end().catch(() => {});
    return {
      samples,
      reaperSamples,
      longestReaperXactMs: round(longestXactMs, 1),
      lockWaitSamples,
      lockWaitsBlockedByReaper: blockedByReaper,
      reaperWaitedOnLock: reaperWaited,
      waitingStatements: [...waiting].map(([query, n]) => ({ query, samples: n })),
      reaperAt,
    };
  };
}

/** pg_stat_statements' figures for the reaper's statements in this database: batches (calls), their time, the longest statement, the mean batch. */
async function reaperStatement(c: pg.Client) {
  try {
    const { rows } = await c.query<{ calls: string | null; total: number | null; max: number | null; mean: number | null }>(
      `SELECT sum(calls) FILTER (WHERE query LIKE $1) AS calls, sum(total_exec_time) AS total, max(max_exec_time) AS max,
              sum(total_exec_time) / nullif(sum(calls) FILTER (WHERE query LIKE $1), 0) AS mean
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query LIKE ANY($2::text[])`,
      [REAPER_STATEMENTS[0], REAPER_STATEMENTS],
    );
    const r = rows[0];
    return { calls: Number(r?.calls ?? 0), totalMs: round(r?.total ?? 0, 1), maxMs: round(r?.max ?? 0, 1), meanMs: round(r?.mean ?? 0, 2) };
  } catch {
    return { calls: 0, totalMs: 0, maxMs: 0, meanMs: 0 };
  }
}

/** Latencies whose stamp falls within a reaper pass: samples a transaction was seen open, grouped where less than 250 ms apart. */
function duringPasses(stamped: { at: number; ms: number }[], reaperAt: number[]): number[] {
  const passes: [number, number][] = [];
  for (const at of reaperAt) {
    const last = passes.at(-1);
    if (last && at - last[1] < 250) last[1] = at;
    else passes.push([at, at]);
  }
  return stamped.filter((s) => passes.some(([a, b]) => s.at >= a - 25 && s.at <= b + 25)).map((s) => s.ms);
}

/**
 * Writes `runs` ended runs of LARGE_RUN_TASKS tasks (outputs of about
 * a KB) straight into the tables (the schema of server/src/store/migrations.ts,
 * as the backlog scenario's fill), then removes them with PurgeRuns: the
 * reaper's batches with runs far larger than the load's. Returns the purge's
 * time and its transactions (pg_stat_statements).
 */
async function purgeLargeRuns(c: pg.Client, client: BatonClient, databaseUrl: string, runs: number) {
  // A workflow of their own, kept ten years, so that no pass of the reaper takes them before the purge does.
  await client.registerWorkflowDef({ ...HOLD, name: "bench_ret_large", retentionSeconds: 10 * 365 * 86_400 });
  const { rows } = await c.query<{ hash: string; now: string }>(
    "SELECT (SELECT hash FROM baton.workflow_defs WHERE name = 'bench_ret_large') AS hash, (SELECT max(ended_at) FROM baton.runs) AS now",
  );
  const hash = rows[0]!.hash;
  // Ended as the load's last run did, on the server's clock.
  const ended = Number(rows[0]!.now);
  const payload = JSON.stringify(record(1, "large")).replace(/'/g, "''");
  const id = (kind: number, n: string) => `('b000000${kind}-0000-4000-8000-' || lpad(to_hex(${n}), 12, '0'))::uuid`;
  const tasksEach = LARGE_RUN_TASKS;
  await c.query(
    `INSERT INTO baton.runs (id, name, version, def_hash, status, input, output, variables, created_at, updated_at, ended_at, next_seq)
     SELECT ${id(1, "g")}, 'bench_ret_large', 1, $1, 'COMPLETED', '{}', '{}', '{}', $2::bigint, $2::bigint, $2::bigint, ${tasksEach + 1}
     FROM generate_series(1, ${runs}) g`,
    [hash, ended],
  );
  await c.query(
    `INSERT INTO baton.tasks (id, run_id, seq, ref, type, def_name, status, iteration, input, output, reason, retry_count, retried_task_id,
                              retried, executed, poll_count, worker_id, lease_token, lease_expires_at, scheduled_at, started_at, ended_at,
                              updated_at, visible_at, callback_after_seconds, response_timeout_seconds, timeout_seconds, sub_workflow_id, rev, extra)
     SELECT ${id(2, "g")}, ${id(1, `((g - 1) / ${tasksEach} + 1)`)}, (g - 1) % ${tasksEach} + 1, 'step_' || ((g - 1) % ${tasksEach}), 'SIMPLE',
            'bench_ret_large', 'COMPLETED', 0, '${payload}', '${payload}', '', 0, '', false, true, 1, 'w', 'x', 0, $1::bigint, $1::bigint, $1::bigint, $1::bigint, 0, 0, 300, 0, '', 3, '{}'
     FROM generate_series(1, ${runs * tasksEach}) g`,
    [ended],
  );
  await c.query("VACUUM ANALYZE baton.runs");
  await c.query("VACUUM ANALYZE baton.tasks");
  await resetStatements(databaseUrl);
  const t = nowMs();
  const removed = await client.purgeRuns(ended + 1, { workflow: "bench_ret_large" });
  const seconds = (nowMs() - t) / 1000;
  const statement = await reaperStatement(c);
  return {
    runs: Number(removed.runs),
    tasks: Number(removed.tasks),
    seconds: round(seconds, 2),
    transactions: statement.calls,
    statementMaxMs: statement.maxMs,
    statementMeanMs: statement.meanMs,
  };
}

interface LegOptions {
  cluster: Cluster;
  options: BenchOptions;
  setting: Setting;
  index: number;
  seconds: number;
  /** How many times as fast as the machine's the server's clock runs. */
  rate: number;
  /** Runs started per second whatever is in flight (0: a closed loop of at most 64 in flight). */
  arrivals: number;
  reaperIntervalMs: number;
  /** After the load, remove this many runs far larger than its (purgeLargeRuns; 0: none). */
  largeRuns: number;
}

async function leg(o: LegOptions) {
  const { counts, log } = o.options;
  const db = `bench_retention_${o.index}_${process.pid}`;
  const databaseUrl = await o.cluster.createDatabase(db);
  const server = await startServerProcess({
    databaseUrl,
    entry: ["--import", "tsx", path.join(ROOT, "test/bench/lib/clock-server.ts")],
    env: {
      BATON_RETENTION: o.setting === "on" ? `${RETENTION_S}` : "off",
      BATON_BENCH_CLOCK_RATE: String(o.rate),
      BATON_BENCH_REAPER_INTERVAL_MS: String(o.reaperIntervalMs),
    },
    logFile: path.join(o.options.outDir, "logs", `retention-${o.index}-${o.setting}-server.log`),
  });
  const client = new BatonClient({ address: server.address });
  const worker = new Worker({ address: server.address, workerId: `bench-ret-${o.index}`, minBackoffMs: 50, maxBackoffMs: 1000 });
  const stats = new pg.Client({ connectionString: databaseUrl, application_name: "bench-sampler" });
  try {
    await stats.connect();
    // A day's lease: the server's clock runs fast, and a task held past its lease would go back to the queue.
    await client.registerTaskDefs([...TYPES, "hold"].map((name) => ({ name, retryCount: 0, timeoutSeconds: 0, responseTimeoutSeconds: 86_400 })));
    await client.registerWorkflowDef(FLOW);
    await client.registerWorkflowDef(HOLD);

    let measuring = false;
    let done = 0;
    const startedAt = new Map<number, number>();
    const returnedAt = new Map<string, number>();
    const hops: { at: number; ms: number }[] = [];
    const firsts: number[] = [];
    for (const [i, type] of TYPES.entries()) {
      worker.handle<{ n: number }>(
        type,
        async (input, context) => {
          const at = nowMs();
          if (i === 0) {
            const start = startedAt.get(input.n);
            startedAt.delete(input.n);
            if (measuring && start !== undefined) firsts.push(at - start);
          } else {
            const prev = returnedAt.get(context.workflowId);
            returnedAt.delete(context.workflowId);
            if (measuring && prev !== undefined) hops.push({ at, ms: at - prev });
          }
          if (i !== 1) await context.log(`${type}: order ${input.n} ${i === 0 ? "accepted" : "shipped"}`);
          const output = record(input.n, type);
          if (i < TYPES.length - 1) returnedAt.set(context.workflowId, nowMs());
          else done++;
          return output;
        },
        { concurrency: counts.concurrency },
      );
    }
    worker.start();
    const holds = await Promise.all(Array.from({ length: HOLD_RUNS }, () => client.startWorkflow(HOLD.name, {})));

    let n = 0;
    let started = 0;
    const startOne = () => {
      const i = n++;
      started++;
      startedAt.set(i, nowMs());
      return client.startWorkflow(FLOW.name, { n: i, order: record(i, "order") });
    };
    /** Closed loop: starts runs, 16 calls at a time, with at most 64 started and not finished, until `end` (bench clock). */
    const closed = async (end: number) =>
      Promise.all(
        Array.from({ length: 16 }, async () => {
          while (nowMs() < end) {
            if (started - done >= 64) {
              await sleep(2);
              continue;
            }
            await startOne();
          }
        }),
      );
    /** The open loop's record: how far a start fell behind its time, and the most runs in flight. */
    const open = { behindMaxMs: 0, behindOver100Ms: 0, inFlightMax: 0, startErrors: 0 };
    /** Open loop: the k-th start is due at k / rate s (bench clock) whatever is in flight; at most 64 start calls wait at once. */
    const steady = async (end: number) => {
      const t0 = nowMs();
      const calls = new Set<Promise<unknown>>();
      for (let k = 0; ; k++) {
        const due = t0 + (k * 1000) / o.arrivals;
        if (due >= end) break;
        if (due > nowMs()) await sleep(due - nowMs());
        while (calls.size >= 64) await Promise.race(calls);
        const behind = nowMs() - due;
        open.behindMaxMs = Math.max(open.behindMaxMs, behind);
        if (behind > 100) open.behindOver100Ms++;
        open.inFlightMax = Math.max(open.inFlightMax, started - done);
        const call: Promise<unknown> = startOne()
          .catch(() => open.startErrors++)
          .finally(() => calls.delete(call));
        calls.add(call);
      }
      await Promise.all(calls);
    };
    const load = (end: number) => (o.arrivals > 0 ? steady(end) : closed(end));
    // Warm-up (JIT, connections, plans): not counted.
    await load(nowMs() + Math.min(10_000, (o.seconds * 1000) / 6));
    await until(() => done >= started, 30_000, 10);
    await resetStatements(databaseUrl);

    const first = await sampleTables(stats, 0);
    const series: TableSample[] = [];
    /** Runs completed in the leg at each sample of `series`. */
    const completedAt: number[] = [];
    const stopReaperSampling = await sampleReaper(databaseUrl);
    const cpu = cpuMeter([server.pid], o.cluster.postmasterPid);
    const load0 = loadavg()[0]!;
    const t0 = nowMs();
    const end = t0 + o.seconds * 1000;
    const done0 = done;
    measuring = true;
    const every = Math.max(1000, Math.min(5000, (o.seconds * 1000) / 60));
    const sampling = (async () => {
      while (nowMs() < end) {
        await sleep(Math.min(every, Math.max(0, end - nowMs())));
        const sample = await sampleTables(stats, (nowMs() - t0) / 1000);
        series.push(sample);
        completedAt.push(done - done0);
      }
    })();
    Object.assign(open, { behindMaxMs: 0, behindOver100Ms: 0, inFlightMax: 0, startErrors: 0 });
    await load(end);
    const seconds = (nowMs() - t0) / 1000;
    const completed = done - done0;
    measuring = false;
    await sampling;
    const reaper = await stopReaperSampling();
    const cpuUse = cpu();
    const load1 = loadavg()[0]!;
    await until(() => done >= started, 30_000, 10);
    const last = await sampleTables(stats, seconds);
    const statement = await reaperStatement(stats);
    const holdsLeft = await Promise.all(
      holds.map((id) =>
        client.getWorkflow(id).then(
          (r) => r.status,
          (e: unknown) => `gone (${errorText(e)})`,
        ),
      ),
    );
    for (const id of holds) await client.terminateWorkflow(id, "bench done").catch(() => {});
    const large = o.largeRuns > 0 ? await purgeLargeRuns(stats, client, databaseUrl, o.largeRuns) : undefined;

    const total = (s: TableSample) =>
      round(
        RELATIONS.reduce((sum, r) => sum + s.mb[r], 0),
        1,
      );
    const half = series.filter((s) => s.t <= seconds / 2);
    // The tables' growth over the leg's second half per 1,000 runs completed in it: bounded is near 0, kept is a run's size.
    const mid = half.length - 1;
    const secondHalfMbPer1000Runs =
      mid >= 0 && completed > completedAt[mid]! ? round((1000 * (total(last) - total(series[mid]!))) / (completed - completedAt[mid]!), 2) : Number.NaN;
    // The leg in thirds: with the tables bounded, the last third is no larger than the first (once it has filled).
    const thirds = [0, 1, 2].map((k) => {
      const part = series.filter((s) => s.t > (k * seconds) / 3 && s.t <= ((k + 1) * seconds) / 3);
      const mean = (f: (s: TableSample) => number) => (part.length ? round(part.reduce((sum, s) => sum + f(s), 0) / part.length, 1) : Number.NaN);
      const max = (f: (s: TableSample) => number) => Math.max(0, ...part.map(f));
      return {
        tablesMbMean: mean(total),
        tablesMbMax: max(total),
        indexMbMax: round(
          max((s) => RELATIONS.reduce((sum, r) => sum + s.indexMb[r], 0)),
          1,
        ),
        storedRunsMean: mean((s) => s.storedRuns),
        storedRunsMax: max((s) => s.storedRuns),
        deadTuplesMax: Object.fromEntries(RELATIONS.map((r) => [r, max((s) => s.dead[r])])),
        mbAtEnd: part.at(-1)?.mb,
        loadAverage1m: mean((s) => s.load),
      };
    });
    const removedRuns = last.deleted.runs - first.deleted.runs;
    const removedTasks = last.deleted.tasks - first.deleted.tasks;
    const duringReaping = duringPasses(hops, reaper.reaperAt);
    const result = {
      setting: o.setting,
      seconds: round(seconds, 1),
      runsPerSecond: round(completed / seconds, 1),
      ...(o.arrivals > 0 ? { arrivalsPerSecond: o.arrivals, openLoop: { ...open, behindMaxMs: round(open.behindMaxMs, 1) } } : {}),
      hop: distribution(hops.map((h) => h.ms)),
      hopWhileReaping: distribution(duringReaping),
      startToFirst: distribution(firsts),
      removedRuns,
      removedTasks,
      runsRemovedPerSecond: round(removedRuns / seconds, 1),
      tasksRemovedPerSecond: round(removedTasks / seconds, 1),
      // Rows per second of the reaper's statement's own time: what one transaction after another removes.
      runsRemovedPerStatementSecond: statement.totalMs > 0 ? round(removedRuns / (statement.totalMs / 1000), 0) : 0,
      reaperStatement: statement,
      reaper: { ...reaper, reaperAt: undefined },
      storedRuns: {
        atStart: first.storedRuns,
        maxFirstHalf: Math.max(0, ...half.map((s) => s.storedRuns)),
        max: Math.max(0, ...series.map((s) => s.storedRuns)),
        atEnd: last.storedRuns,
      },
      secondHalfMbPer1000Runs,
      thirds,
      // The mean size's growth from the first third to the last, per minute of the leg: near 0 when bounded.
      thirdsGrowthMbPerMinute: round((thirds[2]!.tablesMbMean - thirds[0]!.tablesMbMean) / ((2 * seconds) / 3 / 60), 2),
      tablesMb: {
        atStart: total(first),
        maxFirstHalf: Math.max(0, ...half.map(total)),
        max: Math.max(0, ...series.map(total)),
        atEnd: total(last),
        byTable: last.mb,
      },
      deadTuplesMax: Object.fromEntries(RELATIONS.map((r) => [r, Math.max(0, ...series.map((s) => s.dead[r]))])),
      deadTuplesAtEnd: last.dead,
      liveTuplesAtEnd: last.live,
      autovacuums: Object.fromEntries(RELATIONS.map((r) => [r, last.autovacuums[r] - first.autovacuums[r]])),
      holdRuns: holdsLeft,
      ...(large ? { largeRunsPurge: large } : {}),
      cpu: cpuUse,
      loadAverage1m: [round(load0, 1), round(load1, 1)],
      series: series.map((s) => ({ t: s.t, storedRuns: s.storedRuns, totalMb: total(s), mb: s.mb, indexMb: s.indexMb, dead: s.dead, load: s.load })),
    };
    log(
      `  retention leg ${o.index + 1} (reaper ${o.setting}): ${result.runsPerSecond} runs/s; result -> next step p50 ${result.hop.p50} / p99 ${result.hop.p99} ms` +
        ` (while reaping: ${result.hopWhileReaping.n} hops, p99 ${result.hopWhileReaping.p99} ms); removed ${removedRuns} runs, ${removedTasks} tasks;` +
        ` stored runs ${first.storedRuns} -> ${last.storedRuns} (max ${result.storedRuns.max}); tables ${total(first)} -> ${total(last)} MB` +
        ` (second half: ${secondHalfMbPer1000Runs} MB per 1,000 runs; mean by third ${thirds.map((t) => t.tablesMbMean).join(" / ")} MB,` +
        ` stored runs at most ${thirds.map((t) => t.storedRunsMax).join(" / ")});` +
        ` longest reaper transaction ${reaper.longestReaperXactMs} ms, statement max ${statement.maxMs} ms; lock-wait samples ${reaper.lockWaitSamples}` +
        ` (${reaper.lockWaitsBlockedByReaper} behind the reaper); load ${round(load0, 1)} -> ${round(load1, 1)}`,
    );
    return result;
  } finally {
    client.close();
    await worker.stop().catch(() => {});
    await stats.end().catch(() => {});
    await server.stop().catch(() => undefined);
    await o.cluster.dropDatabase(db);
  }
}

type Leg = Awaited<ReturnType<typeof leg>>;

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};

export async function retentionScenario(o: { options: BenchOptions; cluster: Cluster; legSeconds: number; deadline: number }) {
  const { options } = o;
  const order: Setting[] = options.retention.legs ?? (options.quick ? ["off", "on"] : ["off", "on", "on", "off"]);
  const arrivals = options.retention.rate;
  const legs: Leg[] = [];
  for (const [index, setting] of order.entries()) {
    // What is left of the scenario's time, shared by the legs still to run (each takes about 25 s more than its load).
    const share = (o.deadline - nowMs()) / 1000 / (order.length - index) - 25;
    const seconds = Math.floor(Math.min(o.legSeconds, share));
    if (seconds < 5) break;
    // The retention period is a sixth of the leg, or PERIOD_S if shorter; the reaper's pass comes every minute, as by default (quick: four times a leg).
    const rate = Math.round(RETENTION_S / Math.min(PERIOD_S, seconds / PERIODS));
    const reaperIntervalMs = options.quick ? Math.max(2000, (seconds * 1000) / 4) : 60_000;
    options.log(
      `  leg ${index + 1}: reaper ${setting}, ${seconds} s, clock ${rate}x (an hour's retention every ${round(RETENTION_S / rate, 1)} s),` +
        ` ${arrivals > 0 ? `${arrivals} runs started a second` : "a closed loop"}`,
    );
    const largeRuns = setting === "on" && !order.slice(index + 1).includes("on") ? (options.quick ? 100 : 500) : 0;
    legs.push(await leg({ cluster: o.cluster, options, setting, index, seconds, rate, arrivals, reaperIntervalMs, largeRuns }));
  }
  const of = (setting: Setting) => legs.filter((l) => l.setting === setting);
  const on = of("on");
  const off = of("off");
  if (!on.length || !off.length) {
    const reason = options.retention.legs ? `legs asked for: ${order.join(", ")}` : "not enough time for a leg of each setting";
    return { metrics: {}, details: { legs }, status: "partial" as const, reason };
  }
  const pooled = (ls: Leg[], pick: (l: Leg) => number) => round(median(ls.map(pick)), 1);
  const throughputOn = median(on.map((l) => l.runsPerSecond));
  const throughputOff = median(off.map((l) => l.runsPerSecond));
  const spread = (xs: number[]) => (xs.length < 2 ? 0 : (Math.max(...xs) - Math.min(...xs)) / median(xs));
  const noise = Math.max(spread(on.map((l) => l.runsPerSecond)), spread(off.map((l) => l.runsPerSecond)));
  const removedEverything = on.every((l) => l.removedRuns > 0);
  const holdsKept = legs.every((l) => l.holdRuns.every((s) => s === "RUNNING"));
  const large = legs.find((l) => l.largeRunsPurge)?.largeRunsPurge;
  return {
    metrics: {
      hopP50OffMs: pooled(off, (l) => l.hop.p50),
      hopP50OnMs: pooled(on, (l) => l.hop.p50),
      hopP99OffMs: pooled(off, (l) => l.hop.p99),
      hopP99OnMs: pooled(on, (l) => l.hop.p99),
      hopP99WhileReapingMs: pooled(on, (l) => l.hopWhileReaping.p99),
      runsPerSecondOff: round(throughputOff, 1),
      runsPerSecondOn: round(throughputOn, 1),
      onOverOff: round(throughputOn / throughputOff, 3),
      throughputNoise: round(noise, 3),
      runsRemovedPerSecond: pooled(on, (l) => l.runsRemovedPerSecond),
      tasksRemovedPerSecond: pooled(on, (l) => l.tasksRemovedPerSecond),
      runsRemovedPerStatementSecond: pooled(on, (l) => l.runsRemovedPerStatementSecond),
      storedRunsEndOn: pooled(on, (l) => l.storedRuns.atEnd),
      storedRunsEndOff: pooled(off, (l) => l.storedRuns.atEnd),
      tablesMbEndOn: pooled(on, (l) => l.tablesMb.atEnd),
      tablesMbEndOff: pooled(off, (l) => l.tablesMb.atEnd),
      secondHalfMbPer1000RunsOn: round(median(on.map((l) => l.secondHalfMbPer1000Runs)), 2),
      secondHalfMbPer1000RunsOff: round(median(off.map((l) => l.secondHalfMbPer1000Runs)), 2),
      thirdsGrowthMbPerMinuteOn: round(median(on.map((l) => l.thirdsGrowthMbPerMinute)), 2),
      thirdsGrowthMbPerMinuteOff: round(median(off.map((l) => l.thirdsGrowthMbPerMinute)), 2),
      longestReaperXactMs: Math.max(...on.map((l) => l.reaper.longestReaperXactMs)),
      reaperStatementMaxMs: Math.max(...on.map((l) => l.reaperStatement.maxMs)),
      lockWaitsBehindReaper: on.reduce((sum, l) => sum + l.reaper.lockWaitsBlockedByReaper, 0),
      holdRunsKept: holdsKept ? 1 : 0,
      ...(large ? { largeRunsPurgeSeconds: large.seconds, largeRunsTransactions: large.transactions, largeRunsStatementMaxMs: large.statementMaxMs } : {}),
    },
    details: {
      order,
      retentionSeconds: RETENTION_S,
      periodsPerLeg: PERIODS,
      legs,
    },
    ...(!holdsKept
      ? { status: "failed" as const, reason: `a running run was removed or ended: ${JSON.stringify(legs.map((l) => l.holdRuns))}` }
      : !removedEverything
        ? { status: "partial" as const, reason: "a leg with the reaper on removed nothing" }
        : {}),
  };
}
