// Retention beside dispatch (issue 19: "dispatch latency unchanged", as what
// the product guarantees rather than a timing): under a sustained load of runs
// whose SIMPLE task a real worker takes, with time moving a day at a time, the
// reaper removes the earlier days' runs, and each of its batches is held open
// at its export (a slow disk's) while the test looks at it from PostgreSQL:
// it locks no table beyond what any writer holds, at most its batch of runs,
// and nothing waits on a lock of its. Meanwhile runs start, their tasks go to
// the worker and the runs complete, as do runs whose tasks the worker held
// when the batch began: all before the batch commits. A reaper that locked the
// runs table, or the rows of running runs, holds them up (a backend waiting on
// the reaper's); one that removed a day in one transaction locks more than
// its batch. Real server, PostgreSQL, worker and stream; time moves only when
// the test moves it.
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { Registry } from "prom-client";
import { Worker } from "@baton/client";
import { createLogger } from "@baton/server";
import { Reaper } from "../../server/src/retention/reaper.js";
import { RETENTION_APPLICATION } from "../../server/src/store/retention.js";
import type { PurgeFilter, Store } from "../../server/src/store/store.js";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** Runs per reaper transaction. */
const BATCH = 5;
const DAYS = 6;
/** Runs a day, each of one worker task. */
const DAY_RUNS = 20;
/** Runs started while each batch is held. */
const BESIDE = 2;
/** Runs whose task the worker holds when a pass begins, completed while its first batch is held. */
const HELD_BY_WORKER = 3;

let h: Harness;
let db: pg.Client;
/** What failed inside a held batch. */
const failures: unknown[] = [];
let worker: Worker;
/** The worker's held tasks: each resolves when the test lets it complete. */
const holds: (() => void)[] = [];

before(async () => {
  // A worker's stream lives through the days the test moves (its age is on the server's clock).
  h = await startHarness({ server: { limits: { maxStreamAgeMs: 365 * DAY } } });
  db = new pg.Client({ connectionString: h.databaseUrl, application_name: "test-observer" });
  await db.connect();
  await h.client.registerTaskDefs([
    { name: "ret_step", retryCount: 0, responseTimeoutSeconds: 3600 },
    { name: "ret_held", retryCount: 0, responseTimeoutSeconds: 3600 },
  ]);
  await h.client.registerWorkflowDef(flowOf("ret_beside", [{ name: "ret_step", taskReferenceName: "step", type: "SIMPLE" }]));
  await h.client.registerWorkflowDef(flowOf("ret_beside_held", [{ name: "ret_held", taskReferenceName: "held", type: "SIMPLE" }]));
  await h.client.registerWorkflowDef(flowOf("ret_beside_wait", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
  worker = new Worker({ address: h.server.address, workerId: "ret-worker", onError: () => {} })
    .handle("ret_step", () => ({ done: true }), { concurrency: 64 })
    .handle("ret_held", () => new Promise<Record<string, unknown>>((resolve) => holds.push(() => resolve({ done: true }))), { concurrency: 16 })
    .start();
});
after(async () => {
  for (const release of holds.splice(0)) release();
  await worker.stop();
  await db.end();
  await h.close();
});

describe("retention beside dispatch", () => {
  it("holds no lock dispatch waits on and at most its batch of runs, while tasks go on to the worker, under sustained load with time moving", async () => {
    const running = await Promise.all([1, 2, 3].map(() => h.client.startWorkflow("ret_beside_wait", {})));
    const seen = { batches: 0, lockedMost: 0 };
    /** What the test does while a batch is held open, its runs locked and their log lines deleted. */
    let whileHeld: ((f: PurgeFilter) => Promise<void>) | undefined;
    const reaper = heldReaper(async (f) => {
      seen.batches++;
      await whileHeld?.(f);
    });

    for (let day = 0; day < DAYS; day++) {
      await runsToEnd("ret_beside", DAY_RUNS);
      await h.advance(DAY);
      // Runs whose task the worker holds as the pass begins (from the second day, when there is a day to remove): a reaper
      // that locked running runs would hold up their completion.
      const held = day === 0 ? [] : await Promise.all(Array.from({ length: HELD_BY_WORKER }, () => h.client.startWorkflow("ret_beside_held", {})));
      await until(async () => holds.length === held.length);
      let first = true;
      whileHeld = async (f) => {
        const pid = await reaperPid();
        // Only the locks any writer takes on a table: none keeps another writer or reader out.
        const tableLocks = await db.query<{ relation: string; mode: string }>(
          "SELECT relation::regclass::text AS relation, mode FROM pg_locks WHERE pid = $1 AND locktype = 'relation' AND granted ORDER BY 1, 2",
          [pid],
        );
        const strong = tableLocks.rows.filter((l) => !["AccessShareLock", "RowShareLock", "RowExclusiveLock"].includes(l.mode));
        assert.deepEqual(strong, [], "the reaper's transaction takes no lock on a table that keeps a writer out");
        // Dispatch goes on beside it: new runs' tasks to the worker, and (on the pass's first batch) the worker's held tasks
        // completed, each run to its end, with nothing waiting on the reaper meanwhile.
        const ends = [...(first ? held.splice(0) : [])];
        if (first) for (const release of holds.splice(0)) release();
        first = false;
        const started = Promise.all(Array.from({ length: BESIDE }, () => h.client.startWorkflow("ret_beside", {}))).then((ids) => ends.push(...ids));
        let all = false;
        void started.then(() => (all = true));
        await until(async () => {
          assert.deepEqual(await waitingOn(pid), [], "nothing waits on a lock the reaper's transaction holds");
          return all && (await count("SELECT count(*) AS n FROM baton.runs WHERE id = ANY($1::uuid[]) AND status = 'COMPLETED'", [ends])) === ends.length;
        });
        await started;
        // The runs it holds locked of those past their retention (no one else touches them): one batch, not the day.
        const locked = await count(
          `SELECT (SELECT count(*) FROM baton.runs WHERE ended_at > 0 AND ended_at < $1)
                - (SELECT count(*) FROM (SELECT 1 FROM baton.runs WHERE ended_at > 0 AND ended_at < $1 FOR KEY SHARE SKIP LOCKED) s) AS n`,
          [f.before],
        );
        assert.ok(locked >= 1 && locked <= BATCH, `a batch locks at most ${BATCH} runs: ${locked}`);
        seen.lockedMost = Math.max(seen.lockedMost, locked);
      };
      await reaper.pass();
      // An assertion inside a batch fails the batch (it is rolled back) and the pass, which the reaper only logs.
      if (failures.length > 0) throw failures[0];
      if (day > 0) assert.ok(!first, `day ${day}: the pass removed a batch, held`);
      whileHeld = undefined;
      // What is past its day is gone.
      assert.equal(await count("SELECT count(*) AS n FROM baton.runs WHERE ended_at > 0 AND ended_at < $1", [h.clock.now() - DAY]), 0);
    }
    assert.ok(seen.batches >= (DAYS - 1) * (DAY_RUNS / BATCH), `batches held: ${JSON.stringify(seen)}`);
    assert.equal(seen.lockedMost, BATCH, "full batches");
    assert.deepEqual(
      (await Promise.all(running.map((id) => h.client.getWorkflow(id)))).map((r) => r.status),
      ["RUNNING", "RUNNING", "RUNNING"],
      "no running run removed",
    );
    // Every task the worker was given was done by it: none left queued, lost or timed out.
    assert.equal(
      await count("SELECT count(*) AS n FROM baton.tasks WHERE type = 'SIMPLE' AND (status <> 'COMPLETED' OR worker_id <> 'ret-worker')"),
      0,
      "every worker task completed by the worker",
    );
  });
});

/** A reaper on the server's store (one day's retention, BATCH runs a transaction) that calls `held` inside each batch's transaction, then writes the export. */
function heldReaper(held: (f: PurgeFilter) => Promise<void>): Reaper {
  const store = h.server.store;
  const exportDir = mkdtempSync(path.join(tmpdir(), "baton-beside-"));
  const gated: Pick<Store, "removeEndedRuns" | "oldestEndedRun" | "retentionOverrides" | "removeIdleConcurrencyKeys"> = {
    removeEndedRuns: (f, limit, keep) =>
      store.removeEndedRuns(f, limit, async (lines) => {
        await held(f).catch((error: unknown) => {
          failures.push(error);
          throw error;
        });
        await keep!(lines);
      }),
    oldestEndedRun: () => store.oldestEndedRun(),
    retentionOverrides: () => store.retentionOverrides(),
    removeIdleConcurrencyKeys: (limit) => store.removeIdleConcurrencyKeys(limit),
  };
  return new Reaper(gated, h.clock, createLogger("silent"), { defaultSeconds: DAY / 1000, batch: BATCH, exportDir, intervalMs: DAY }, new Registry());
}

/** The backend of the reaper's open transaction (held: idle in it), as PostgreSQL names it (other files' servers share the cluster). */
async function reaperPid(): Promise<number> {
  const { rows } = await db.query<{ pid: number; state: string }>(
    "SELECT pid, state FROM pg_stat_activity WHERE datname = current_database() AND application_name = $1",
    [RETENTION_APPLICATION],
  );
  assert.deepEqual(
    rows.map((r) => r.state),
    ["idle in transaction"],
    "one reaper transaction, open",
  );
  return rows[0]!.pid;
}

/** Backends waiting on a lock `pid` holds, with what they run. */
async function waitingOn(pid: number): Promise<string[]> {
  const { rows } = await db.query<{ who: string }>(
    "SELECT concat_ws(': ', application_name, left(query, 120)) AS who FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))",
    [pid],
  );
  return rows.map((r) => r.who);
}

/** Starts `n` runs of `name` and waits until the worker has taken each task and every run completed. */
async function runsToEnd(name: string, n: number): Promise<void> {
  const ids = await Promise.all(Array.from({ length: n }, () => h.client.startWorkflow(name, {})));
  await until(async () => (await count("SELECT count(*) AS n FROM baton.runs WHERE id = ANY($1::uuid[]) AND status = 'COMPLETED'", [ids])) === n);
}

async function count(sql: string, params: unknown[] = []): Promise<number> {
  return Number((await db.query(sql, params)).rows[0].n);
}

/** Checks `done` until it holds: the test runner's timeout bounds it, not a time of its own. */
async function until(done: () => Promise<boolean>): Promise<void> {
  while (!(await done())) await new Promise((r) => setTimeout(r, 10));
}
