// Retention's batches are small in tasks and log lines as well as in runs:
// one transaction removes the oldest ended runs whose tasks add up to the
// batch's task limit (a run with more goes alone), or only log lines of
// theirs, up to its log limit, while they have more; the reaper goes on until
// all are gone. Runs of a few hundred tasks each made a batch of 500 runs one
// transaction of many seconds (the retention bench's probe: 500 runs of 300
// tasks, 8.4 s), and a run's log lines are not in its task count (one run of
// 5,000 tasks with 100 lines each: 2.8 s, against 29 ms without them).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { Registry } from "prom-client";
import { createLogger } from "@baton/server";
import { Reaper } from "../../server/src/retention/reaper.js";
import type { Store } from "../../server/src/store/store.js";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

let h: Harness;

/** Ends at once, with `tasks` SET_VARIABLE tasks. */
const flowOfTasks = (name: string, tasks: number) =>
  flowOf(
    name,
    Array.from({ length: tasks }, (_, i) => ({ name: "set", taskReferenceName: `set_${i}`, type: "SET_VARIABLE", inputParameters: { x: i } })),
  );

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

describe("retention batches", () => {
  it("keeps each transaction within its task limit, a larger run alone, and removes every run", async () => {
    await h.client.registerWorkflowDef(flowOfTasks("ret_small", 1));
    await h.client.registerWorkflowDef(flowOfTasks("ret_big", 12));
    const starts = ["ret_small", "ret_small", "ret_big", "ret_small", "ret_small", "ret_small", "ret_big", "ret_big", "ret_small", "ret_small", "ret_small"];
    for (const name of starts) await h.client.startWorkflow(name, {});
    const expectedTasks = starts.reduce((n, name) => n + (name === "ret_big" ? 12 : 1), 0);

    // The server's own store, each batch recorded.
    const { batches, reaper } = recordedReaper({ batch: 500, batchTasks: 10 });
    const total = await reaper.purge({ before: h.clock.now() + 1 });

    assert.deepEqual(total, { runs: starts.length, tasks: expectedTasks }, "every run and task removed");
    for (const b of batches) assert.ok(b.tasks <= 10 || b.runs === 1, `a batch over its task limit holds one run: ${JSON.stringify(batches)}`);
    assert.ok(batches.filter((b) => b.runs > 0).length >= 4, `split into batches: ${JSON.stringify(batches)}`);
    const { workflows } = await h.client.searchWorkflows({ pageSize: 100 });
    assert.equal(workflows.length, 0, "no run left");
  });

  it("keeps each transaction within its log limit, removing a run's lines over several before the run", async () => {
    await h.client.registerWorkflowDef(flowOfTasks("ret_logged", 2));
    const runs = await Promise.all([1, 2, 3].map(() => h.client.startWorkflow("ret_logged", {})));
    const db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
    try {
      // 25 lines on each task: 50 a run, 150 in all.
      await db.query(
        `INSERT INTO baton.task_logs (task_id, created_at, message)
         SELECT t.id, 0, 'line ' || g FROM baton.tasks t CROSS JOIN generate_series(1, 25) g WHERE t.run_id = ANY($1::uuid[])`,
        [runs],
      );
      const lines = async () => Number((await db.query("SELECT count(*) AS n FROM baton.task_logs")).rows[0].n);
      const gone: number[] = [];
      const { batches, reaper } = recordedReaper({ batch: 500, batchTasks: 5000, batchLogs: 20 }, async (removeBatch) => {
        const before = await lines();
        const removed = await removeBatch();
        gone.push(before - (await lines()));
        return removed;
      });
      const total = await reaper.purge({ before: h.clock.now() + 1 });
      assert.deepEqual(total, { runs: 3, tasks: 6 }, "every run and task removed");
      assert.equal(await lines(), 0, "every line removed");
      assert.ok(Math.max(...gone) <= 20, `a transaction removes at most 20 lines: ${JSON.stringify(gone)}`);
      assert.ok(batches.at(-1)!.runs === 3, `the runs go once their lines have: ${JSON.stringify(batches)}`);
    } finally {
      await db.end();
    }
  });

  it("finds a batch's log lines and loop entries through their indexes, not by reading either table", async () => {
    await h.client.registerWorkflowDef(flowOfTasks("ret_among_many", 3));
    await h.client.registerWorkflowDef(flowOfTasks("ret_stays", 1));
    const runs: string[] = [];
    for (let i = 0; i < 20; i++) runs.push(await h.client.startWorkflow("ret_among_many", {}));
    const stays = await h.client.startWorkflow("ret_stays", {});
    const db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
    try {
      await db.query("INSERT INTO baton.task_logs (task_id, created_at, message) SELECT t.id, 0, 'mine' FROM baton.tasks t WHERE t.run_id = ANY($1::uuid[])", [
        runs,
      ]);
      // Beside the batch's 60 tasks, 200 tasks of a run that stays, with 500 log lines and 500 loop entries each. Joined to the
      // batch's tasks (about a quarter of those the statistics know), a table was read whole: loop_iterations along its primary
      // key (the server's connections run with enable_seqscan off; without, both tables by a sequential scan).
      await db.query(
        `INSERT INTO baton.tasks (id, run_id, seq, ref, type, def_name, status, iteration, input, output, reason, retry_count, retried_task_id,
                                  retried, executed, poll_count, worker_id, lease_token, lease_expires_at, scheduled_at, started_at, ended_at,
                                  updated_at, visible_at, callback_after_seconds, response_timeout_seconds, timeout_seconds, sub_workflow_id, rev, extra)
         SELECT gen_random_uuid(), $1, g + 1000, 'other_' || g, 'DO_WHILE', 'other', 'COMPLETED', 0, '{}', '{}', '', 0, '', false, true, 1, '', '', 0,
                0, 0, 0, 0, 0, 0, 300, 0, '', 1, '{}'
         FROM generate_series(1, 200) g`,
        [stays],
      );
      const others = "SELECT t.id FROM baton.tasks t WHERE t.run_id = $1 AND t.def_name = 'other'";
      await db.query(`INSERT INTO baton.task_logs (task_id, created_at, message) SELECT o.id, 0, 'other' FROM (${others}) o, generate_series(1, 500)`, [stays]);
      await db.query(`INSERT INTO baton.loop_iterations (task_id, iteration, output) SELECT o.id, g, '{}' FROM (${others}) o, generate_series(1, 500) g`, [
        stays,
      ]);
      await db.query("ANALYZE baton.tasks, baton.task_logs, baton.loop_iterations");
      // Rows read from each table, by sequential scans and through its indexes.
      const stats = async () =>
        Object.fromEntries(
          (
            await db.query<{ relname: string; read: string; del: string }>(
              `SELECT s.relname, s.seq_tup_read + coalesce((SELECT sum(i.idx_tup_read) FROM pg_stat_user_indexes i WHERE i.relid = s.relid), 0) AS read,
                      s.n_tup_del AS del
               FROM pg_stat_user_tables s WHERE s.schemaname = 'baton' AND s.relname IN ('tasks', 'task_logs', 'loop_iterations')`,
            )
          ).rows.map((r) => [r.relname, { read: Number(r.read), del: Number(r.del) }]),
        );
      // Backends report their counters when idle, a second or more late: the tests before this one removed lines whose
      // deletes can arrive now. Count from when these two tables' counters stop moving (nothing else touches them).
      const before = await settled(stats);
      const { reaper } = recordedReaper({});
      assert.deepEqual(await reaper.purge({ before: h.clock.now() + 1, workflow: "ret_among_many" }), { runs: 20, tasks: 60 });
      // The server's backend reports its counters when idle (within a second or so): wait for its deletes to show.
      let after = await stats();
      for (let i = 0; i < 200 && after["tasks"]!.del < before["tasks"]!.del + 60; i++) {
        await new Promise((r) => setTimeout(r, 50));
        after = await stats();
      }
      assert.equal(Number((await db.query(`SELECT count(*) AS n FROM baton.task_logs WHERE message = 'mine'`)).rows[0].n), 0, "the batch's own lines removed");
      // The batch's 60 tasks have 60 lines and no entries, and each is looked up a few times: nowhere near the 100,000 beside
      // (before: the whole of loop_iterations, 99,503 rows, read through its primary key). An idle backend may report its
      // counters up to 10 s late, so the earlier tests' reads (a few hundred rows in all) can still land in this window.
      const read = {
        task_logs: after["task_logs"]!.read - before["task_logs"]!.read,
        loop_iterations: after["loop_iterations"]!.read - before["loop_iterations"]!.read,
      };
      assert.ok(read.task_logs <= 2_000 && read.loop_iterations <= 2_000, `rows read: ${JSON.stringify(read)}`);
      assert.equal(Number((await db.query(`SELECT count(*) AS n FROM baton.task_logs WHERE message = 'other'`)).rows[0].n), 100_000, "other lines kept");
    } finally {
      await db.end();
    }
  });
});

/** The counters once `task_logs` and `loop_iterations` have not moved for 1.5 s (at most about 15 s). */
async function settled(stats: () => Promise<Record<string, { read: number; del: number }>>) {
  const quiet = (s: Record<string, { read: number; del: number }>) => JSON.stringify([s["task_logs"], s["loop_iterations"]]);
  let last = await stats();
  for (let still = 0, i = 0; still < 6 && i < 60; i++) {
    await new Promise((r) => setTimeout(r, 250));
    const now = await stats();
    still = quiet(now) === quiet(last) ? still + 1 : 0;
    last = now;
  }
  return last;
}

/** A reaper on the server's own store whose batches are recorded (and `around` each, when given). */
function recordedReaper(
  options: ConstructorParameters<typeof Reaper>[3],
  around: (removeBatch: () => ReturnType<Store["removeEndedRuns"]>) => ReturnType<Store["removeEndedRuns"]> = (removeBatch) => removeBatch(),
) {
  const batches: { runs: number; tasks: number }[] = [];
  const store = h.server.store;
  const recorded = {
    removeEndedRuns: async (...args: Parameters<Store["removeEndedRuns"]>) => {
      const removed = await around(() => store.removeEndedRuns(...args));
      batches.push({ runs: removed.runs, tasks: removed.tasks });
      return removed;
    },
    oldestEndedRun: () => store.oldestEndedRun(),
    retentionOverrides: () => store.retentionOverrides(),
    removeIdleConcurrencyKeys: (limit: number) => store.removeIdleConcurrencyKeys(limit),
  };
  return { batches, reaper: new Reaper(recorded, h.clock, createLogger("silent"), options, new Registry()) };
}
