// Retention on a real server and PostgreSQL, with the test's clock: ended runs
// past the server's default or their workflow's own period are removed with
// their tasks and logs, exported first when asked; running runs never go;
// `PurgeRuns` for operators; bad retention refused; and under sustained load
// with time moving, the tables stay bounded (dispatch beside the reaper:
// beside-dispatch.test.ts).
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { grpc } from "@baton/protocol";
import { createLogger, serverOptionsFromEnv, startServer } from "@baton/server";
import { metricValue, startHarness, type Harness } from "../support/harness.js";
import { freshDatabase } from "../support/database.js";
import { answer, mustPoll } from "../support/worker.js";
import { flowOf } from "../support/flows.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let h: Harness;
let db: pg.Client;
const exportDir = mkdtempSync(path.join(tmpdir(), "baton-export-"));

// One worker task (so there are tasks and logs to remove), then done.
const workFlow = (name: string, extra: Record<string, unknown> = {}) => ({
  ...flowOf(name, [{ name: "ret_work", taskReferenceName: "work", type: "SIMPLE" }]),
  ...extra,
});
// Ends at once: a SET_VARIABLE only.
const quickFlow = (name: string) => flowOf(name, [{ name: "set", taskReferenceName: "set", type: "SET_VARIABLE", inputParameters: { x: 1 } }]);
// Runs until terminated.
const waitFlow = (name: string) => flowOf(name, [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]);

async function count(sql: string, params: unknown[] = []): Promise<number> {
  return Number((await db.query(sql, params)).rows[0].n);
}

/** Starts a run of `name` and does its one worker task, with a log line. */
async function runToEnd(name: string): Promise<string> {
  const id = await h.client.startWorkflow(name, {});
  const task = await mustPoll(h, "ret_work");
  await h.client.tasks.addTaskLog({ taskId: task.taskId, message: "working" });
  assert.equal(await answer(h, task, "COMPLETED", { ok: true }), true);
  return id;
}

before(async () => {
  h = await startHarness({ server: { retention: { defaultSeconds: DAY / 1000, exportDir, batch: 3, intervalMs: 3_600_000 } } });
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
  await h.client.registerTaskDefs([{ name: "ret_work", retryCount: 0, responseTimeoutSeconds: 3600 }]);
});
after(async () => {
  await db.end();
  await h.close();
});

describe("retention", () => {
  it("removes ended runs past their period with their tasks and logs, exports them first, and keeps running runs", async () => {
    await h.client.registerWorkflowDef(workFlow("ret_default"));
    await h.client.registerWorkflowDef(workFlow("ret_short", { retentionSeconds: 7200 }));
    await h.client.registerWorkflowDef(workFlow("ret_long", { retentionSeconds: (3 * DAY) / 1000 }));
    await h.client.registerWorkflowDef(waitFlow("ret_wait"));
    const kept = await Promise.all([1, 2].map(() => h.client.startWorkflow("ret_wait", {})));
    const ended: string[] = [];
    for (let i = 0; i < 4; i++) ended.push(await runToEnd("ret_default"));
    const short: string[] = [];
    for (let i = 0; i < 4; i++) short.push(await runToEnd("ret_short"));
    const long = await runToEnd("ret_long");
    const ids = [...ended, ...short];
    assert.equal(await count("SELECT count(*) AS n FROM baton.task_logs l JOIN baton.tasks t ON t.id = l.task_id WHERE t.run_id = ANY($1::uuid[])", [ids]), 8);

    // Three hours on: the short workflow's runs are past their two hours, the others not.
    await h.advance(3 * HOUR);
    await h.server.settle();
    await waitFor(async () => (await count("SELECT count(*) AS n FROM baton.runs WHERE name = 'ret_short'")) === 0);
    assert.equal(await count("SELECT count(*) AS n FROM baton.runs WHERE name = 'ret_default'"), 4, "the default (a day) keeps the others");
    assert.equal(await count("SELECT count(*) AS n FROM baton.tasks WHERE run_id = ANY($1::uuid[])", [short]), 0, "tasks gone with their runs");

    // A day on: the rest of the ended runs go; the running ones stay.
    await h.advance(DAY);
    await waitFor(async () => (await count("SELECT count(*) AS n FROM baton.runs WHERE name = 'ret_default'")) === 0);
    assert.equal(await count("SELECT count(*) AS n FROM baton.task_logs l WHERE l.message = 'working'"), 1, "logs gone, but for the run kept longer");
    assert.deepEqual(
      (await Promise.all(kept.map((id) => h.client.getWorkflow(id)))).map((r) => r.status),
      ["RUNNING", "RUNNING"],
    );
    await assert.rejects(h.client.getWorkflow(ended[0]!), { code: grpc.status.NOT_FOUND });
    // A workflow's own period longer than the default holds its runs past the default's.
    assert.equal((await h.client.getWorkflow(long)).status, "COMPLETED");
    await h.advance(2 * DAY);
    await waitFor(async () => (await count("SELECT count(*) AS n FROM baton.runs WHERE id = $1", [long])) === 0);

    // Each removed run was written to the export, with its tasks, before it went.
    const lines = readdirSync(exportDir)
      .flatMap((f) => readFileSync(path.join(exportDir, f), "utf8").trim().split("\n"))
      .map((l) => JSON.parse(l) as { id: string; tasks: unknown[] });
    for (const id of ids) {
      const line = lines.find((l) => l.id === id);
      assert.ok(line, `run ${id} exported`);
      assert.equal(line.tasks.length, 1);
    }
    const metrics = await h.server.metrics.registry.getSingleMetricAsString("baton_retention_runs_removed_total");
    assert.match(metrics, /baton_retention_runs_removed_total \d+/);
    assert.ok(Number(/ (\d+)$/m.exec(metrics)![1]) >= 8);
    for (const id of kept) await h.client.terminateWorkflow(id, "done");
  });

  it("purges for operators: a dry run counts, a purge removes, by workflow and time", async () => {
    await h.client.registerWorkflowDef(quickFlow("ret_quick_a"));
    await h.client.registerWorkflowDef(quickFlow("ret_quick_b"));
    for (let i = 0; i < 5; i++) await h.client.startWorkflow("ret_quick_a", {});
    for (let i = 0; i < 2; i++) await h.client.startWorkflow("ret_quick_b", {});
    const endedBy = h.clock.now() + 1;
    const dry = await h.client.purgeRuns(endedBy, { workflow: "ret_quick_a", dryRun: true });
    assert.equal(dry.runs, 5);
    assert.equal(await count("SELECT count(*) AS n FROM baton.runs WHERE name = 'ret_quick_a'"), 5, "a dry run removes nothing");
    const tasksBefore = await metricValue(h.server, "baton_retention_tasks_removed_total");
    const done = await h.client.purgeRuns(endedBy, { workflow: "ret_quick_a" });
    assert.deepEqual([done.runs, done.tasks], [5, 5]);
    assert.equal(await metricValue(h.server, "baton_retention_tasks_removed_total"), tasksBefore + 5);
    // The oldest ended run left, as PurgeRuns answers it and /metrics shows it (seconds).
    const oldest = await count("SELECT min(ended_at) AS n FROM baton.runs WHERE ended_at > 0");
    assert.equal(done.oldestEndedTime, oldest);
    assert.equal(await metricValue(h.server, "baton_oldest_ended_run_timestamp_seconds"), oldest / 1000);
    assert.equal(await count("SELECT count(*) AS n FROM baton.runs WHERE name = 'ret_quick_b'"), 2, "another workflow's runs stay");
    assert.equal((await h.client.purgeRuns(h.clock.now() - DAY)).runs, 0, "nothing ended that long ago");
    const refused = await h.client.purgeRuns(0).catch((e: { code: number; details: string }) => e);
    assert.equal((refused as { code: number }).code, grpc.status.INVALID_ARGUMENT);
    assert.match((refused as { details: string }).details, /before_time_ms is required/);
  });

  it("removes a loop's iteration entries with its run, and exports its output whole", async () => {
    await h.client.registerWorkflowDef({
      name: "ret_loop",
      version: 1,
      schemaVersion: 2,
      retentionSeconds: 7200,
      tasks: [
        {
          name: "loop",
          taskReferenceName: "loop",
          type: "DO_WHILE",
          inputParameters: { items: [1, 2, 3] },
          loopOver: [{ name: "n", taskReferenceName: "n", type: "NOOP" }],
        },
      ],
    });
    const id = await h.client.startWorkflow("ret_loop", {});
    await waitFor(async () => (await h.client.getWorkflow(id)).status === "COMPLETED");
    const loopId = (await db.query("SELECT id FROM baton.tasks WHERE run_id = $1 AND type = 'DO_WHILE'", [id])).rows[0].id as string;
    assert.equal(await count("SELECT count(*) AS n FROM baton.loop_iterations WHERE task_id = $1", [loopId]), 3);
    await h.advance(3 * HOUR);
    await waitFor(async () => (await count("SELECT count(*) AS n FROM baton.runs WHERE id = $1", [id])) === 0);
    assert.equal(await count("SELECT count(*) AS n FROM baton.loop_iterations WHERE task_id = $1", [loopId]), 0, "entries gone with the run");
    const line = readdirSync(exportDir)
      .flatMap((f) => readFileSync(path.join(exportDir, f), "utf8").trim().split("\n"))
      .map((l) => JSON.parse(l) as { id: string; tasks: { type: string; output: unknown }[] })
      .find((l) => l.id === id);
    assert.deepEqual(line?.tasks.find((t) => t.type === "DO_WHILE")?.output, {
      "1": { n: {} },
      "2": { n: {} },
      "3": { n: {} },
      iteration: 3,
      item: 3,
      index: 2,
    });
  });

  it("refuses a retention below the minimum, storing nothing", async () => {
    const refused = await h.client.registerWorkflowDef(workFlow("ret_too_short", { retentionSeconds: 60 })).catch((e: { code: number; details: string }) => e);
    assert.equal((refused as { code: number }).code, grpc.status.INVALID_ARGUMENT);
    assert.match((refused as { details: string }).details, /retentionSeconds/);
    const missing = await h.client.getWorkflowDef("ret_too_short").catch((e: { code: number }) => e);
    assert.equal((missing as { code: number }).code, grpc.status.NOT_FOUND);
    await assert.rejects(
      startServer({ databaseUrl: await freshDatabase(), port: 0, logger: createLogger("silent"), retention: { defaultSeconds: 60 } }),
      /default retention must be .* at least 3600/,
    );
    // The setting read as written, a duration: what it came to and what to write instead.
    assert.throws(
      () => serverOptionsFromEnv({ BATON_RETENTION: "5m" }),
      /^Error: BATON_RETENTION is 5m \(300 s\), under the shortest allowed, one hour: use 1h or more/,
    );
    assert.equal(serverOptionsFromEnv({ BATON_RETENTION: "1h" }).retention?.defaultSeconds, 3600);
  });

  it("removes the count of a concurrency key no run holds or waits for, and the key counts afresh at its next start", async () => {
    // A key per order: without this, a row per run ever started, past the run's own removal.
    await h.client.registerWorkflowDef({
      ...waitFlow("ret_keyed"),
      rateLimitConfig: { rateLimitKey: "${workflow.input.orderId}", concurrentExecLimit: 1 },
    });
    const keyRows = async () =>
      (await db.query("SELECT key, running FROM baton.concurrency_keys WHERE workflow = 'ret_keyed' ORDER BY key")).rows as { key: string; running: number }[];
    const ended = await Promise.all(["o1", "o2", "o3"].map((orderId) => h.client.startWorkflow("ret_keyed", { orderId })));
    for (const id of ended) await h.client.terminateWorkflow(id, "done");
    const held = await h.client.startWorkflow("ret_keyed", { orderId: "o4" });
    const waiting = await h.client.startWorkflow("ret_keyed", { orderId: "o4" });
    assert.equal((await keyRows()).length, 4);

    await h.advance(1000); // a reaper pass
    await waitFor(async () => (await keyRows()).length === 1);
    assert.deepEqual(await keyRows(), [{ key: "o4", running: 1 }], "the key a run holds stays, with the run waiting for it");

    // o1 starts afresh, its limit whole: a second run of it waits (RUNNING with no task), until the first ends.
    const admitted = async (id: string) => (await h.client.getWorkflow(id, { includeTasks: true })).tasks.length > 0;
    const again = await h.client.startWorkflow("ret_keyed", { orderId: "o1" });
    const over = await h.client.startWorkflow("ret_keyed", { orderId: "o1" });
    assert.deepEqual([await admitted(again), await admitted(over)], [true, false]);
    assert.match((await h.client.getWorkflow(over)).reasonForIncompletion ?? "", /^queued: 1 runs of ret_keyed with key "o1" are running \(limit 1\)/);
    assert.equal(await admitted(waiting), false);
    await h.client.terminateWorkflow(held, "done");
    await h.settle();
    await waitFor(() => admitted(waiting));
    for (const id of [again, over, waiting]) await h.client.terminateWorkflow(id, "done");
  });

  it("keeps the tables bounded under sustained load with time moving, and never removes a running run", async () => {
    await h.client.registerWorkflowDef(quickFlow("ret_load"));
    await h.client.registerWorkflowDef(waitFlow("ret_load_wait"));
    const running = await Promise.all([1, 2, 3].map(() => h.client.startWorkflow("ret_load_wait", {})));
    const sizes: number[] = [];
    const bytes: number[] = [];
    // Twelve "days" of 40 runs a day; retention is one day.
    for (let day = 0; day < 12; day++) {
      await Promise.all(Array.from({ length: 40 }, () => h.client.startWorkflow("ret_load", {})));
      await h.advance(DAY / 2);
      await h.advance(DAY / 2);
      // The reaper's pass (started by the clock's move) has removed what is past the day, or the check below fails.
      await waitFor(
        async () => (await count("SELECT count(*) AS n FROM baton.runs WHERE name = 'ret_load' AND ended_at < $1", [h.clock.now() - DAY])) === 0,
        5000,
      ).catch(() => {});
      sizes.push(await count("SELECT count(*) AS n FROM baton.runs WHERE name = 'ret_load'"));
      // What autovacuum does in production (a minute apart at the least): the rows removed free their space for the next day's.
      await db.query("VACUUM baton.runs, baton.tasks");
      bytes.push(await count("SELECT pg_table_size('baton.runs') + pg_table_size('baton.tasks') AS n"));
    }
    assert.ok(Math.max(...sizes) <= 80, `at most two days of runs are stored at any time: ${sizes.join(", ")}`);
    assert.ok(
      sizes.slice(-4).every((n) => n === sizes.at(-1)),
      `steady: ${sizes.join(", ")}`,
    );
    // Kept whole, the last days' tables would be three times the first days' and more. Lazy vacuum skips
    // a page another backend has pinned, so a busy cluster leaves a few pages more: bounded, not byte-exact.
    assert.ok(
      Math.max(...bytes.slice(-4)) <= 1.5 * Math.max(...bytes.slice(0, 4)),
      `the tables' size (bytes, after each day's vacuum) stops growing: ${bytes.join(", ")}`,
    );
    assert.equal(
      await count("SELECT count(*) AS n FROM baton.tasks t JOIN baton.runs r ON r.id = t.run_id WHERE r.name = 'ret_load'"),
      sizes.at(-1),
      "one task per stored run, no leftovers",
    );
    assert.equal(
      await count("SELECT count(*) AS n FROM baton.tasks t WHERE NOT EXISTS (SELECT 1 FROM baton.runs r WHERE r.id = t.run_id)"),
      0,
      "no orphaned tasks",
    );
    assert.deepEqual(
      (await Promise.all(running.map((id) => h.client.getWorkflow(id)))).map((r) => r.status),
      ["RUNNING", "RUNNING", "RUNNING"],
    );
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 20));
  }
}
