// Retention's export: each removed run is one JSON line holding its row and
// its tasks (a loop's output whole), written as its tasks are read, 500 at a
// time. The text is what it always was (the run's row and each task's
// to_jsonb, in our codec); a large run no longer goes through one aggregate
// (sorted on disk: 22 MB of temporary files for 5,000 tasks of 1 KB) and one
// parse and write of the whole text; and a batch that fails midway leaves the
// export file as it found it.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { Registry } from "prom-client";
import { parseJson, stringifyJson } from "@baton/protocol";
import { createLogger } from "@baton/server";
import { Reaper } from "../../server/src/retention/reaper.js";
import type { Store } from "../../server/src/store/store.js";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

let h: Harness;
let db: pg.Client;
const exportDir = mkdtempSync(path.join(tmpdir(), "baton-export-"));

before(async () => {
  h = await startHarness({ server: { retention: { exportDir, intervalMs: 3_600_000 } } });
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
});
after(async () => {
  await db.end();
  await h.close();
});

const exported = () =>
  readdirSync(exportDir)
    .map((f) => readFileSync(path.join(exportDir, f), "utf8"))
    .join("");

/** An ended run of `name` with `tasks` tasks of about 1 KB each and values JSON spells more than one way, written by SQL. */
async function endedRun(name: string, tasks: number): Promise<string> {
  const hash = (await db.query("SELECT hash FROM baton.workflow_defs WHERE name = 'ret_export_def'")).rows[0].hash as string;
  const { rows } = await db.query(
    `INSERT INTO baton.runs (id, name, version, def_hash, status, input, output, variables, created_at, updated_at, ended_at, next_seq, failed_refs)
     VALUES (gen_random_uuid(), $1, 1, $2, 'FAILED', '{"big": 12345678901234567890, "n": 1.50}', '{"x": [1, 2.0, 1e3, -0]}',
             '{"v": "a\\"b\\\\c\\n\\t\\u0001é😀"}', 1, 2, 1000, $3::int + 1, '{a,b}') RETURNING id`,
    [name, hash, tasks],
  );
  const id = rows[0].id as string;
  await db.query(
    `INSERT INTO baton.tasks (id, run_id, seq, ref, type, def_name, status, iteration, input, output, reason, retry_count, retried_task_id,
                              retried, executed, poll_count, worker_id, lease_token, lease_expires_at, scheduled_at, started_at, ended_at,
                              updated_at, visible_at, callback_after_seconds, response_timeout_seconds, timeout_seconds, sub_workflow_id, rev, extra)
     SELECT gen_random_uuid(), $1, g, 't' || g, CASE WHEN g % 500 = 7 THEN 'DO_WHILE' ELSE 'SIMPLE' END, 'w', 'COMPLETED', 0,
            jsonb_build_object('payload', repeat('x', 800), 'f', g / 7.0, 'big', 99999999999999999999 * g, 'e', 1.25e-8, 's', E'tab\\t"q" é'),
            (CASE WHEN g % 500 = 7 THEN '{"iteration": 2}' ELSE '{"out": [true, false, null, 2.50]}' END)::jsonb,
            '', 0, '', false, true, 1, 'worker', '', 0, 9007199254740993, g, g, g, 0, 0, 300, 0, '', 1, '{"k": {"z": 1, "a": 2}}'
     FROM generate_series(1, $2::int) g`,
    [id, tasks],
  );
  await db.query(
    `INSERT INTO baton.loop_iterations (task_id, iteration, output)
     SELECT t.id, i, jsonb_build_object('i', i, 'v', 0.1 * i) FROM baton.tasks t, generate_series(1, 2) i WHERE t.run_id = $1 AND t.type = 'DO_WHILE'`,
    [id],
  );
  return id;
}

/**
 * The run's line as the export has always written it: the run's row and its tasks' to_jsonb (a loop's output with its
 * entries) in order, aggregated by PostgreSQL, read by our codec, and written again with the tasks inside the run.
 */
async function lineBefore(id: string): Promise<string> {
  await db.query("SET work_mem = '256MB'"); // this reading's own sort stays in memory: the test counts the server's temporary files
  const { rows } = await db.query(
    `SELECT (SELECT row_to_json(r)::text FROM baton.runs r WHERE r.id = $1) AS run,
            (SELECT coalesce(json_agg(CASE WHEN t.type = 'DO_WHILE' THEN to_jsonb(t) || jsonb_build_object('output', t.output || coalesce(
               (SELECT jsonb_object_agg(i.iteration::text, i.output) FROM baton.loop_iterations i WHERE i.task_id = t.id), '{}'))
               ELSE to_jsonb(t) END ORDER BY t.seq), '[]')::text FROM baton.tasks t WHERE t.run_id = $1) AS tasks`,
    [id],
  );
  await db.query("RESET work_mem");
  return stringifyJson({ ...(parseJson(rows[0].run as string) as object), tasks: parseJson(rows[0].tasks as string) }) + "\n";
}

describe("retention export", () => {
  it("writes each run as the line it always was, a large run's tasks a page at a time, sorting nothing on disk", async () => {
    await h.client.registerWorkflowDef(flowOf("ret_export_def", [{ name: "set", taskReferenceName: "set", type: "SET_VARIABLE", inputParameters: { x: 1 } }]));
    // A run of the server's own, ended at once; an empty one; one of 5,000 tasks (ten pages, 5 MB, two loops); one of three.
    const own = await h.client.startWorkflow("ret_export_def", { y: [1, "two"] });
    const ids = [own, await endedRun("ret_export_def", 0), await endedRun("ret_export_def", 5000), await endedRun("ret_export_def", 3)];
    const expected = await Promise.all(ids.map(lineBefore));
    const stats = async () =>
      (
        await db.query<{ files: string; deleted: string }>(
          `SELECT d.temp_files AS files, s.n_tup_del AS deleted FROM pg_stat_database d, pg_stat_user_tables s
           WHERE d.datname = current_database() AND s.relid = 'baton.tasks'::regclass`,
        )
      ).rows[0]!;
    const before = await stats();

    const removed = await h.client.purgeRuns(h.clock.now() + 1, { workflow: "ret_export_def" });
    assert.deepEqual([removed.runs, removed.tasks], [4, 5004]);

    // Whole lines, one per run, each byte for byte the old one.
    const lines = exported()
      .split(/(?<=\n)/)
      .sort();
    assert.equal(lines.length, 4);
    expected.sort();
    for (let i = 0; i < 4; i++) assert.ok(lines[i] === expected[i], `a line as before: ${lines[i]!.slice(0, 120)}…`);
    // The server's backend reports its counters when idle (within a second or so): wait for its deletes to show.
    let after = await stats();
    for (let i = 0; i < 200 && Number(after.deleted) < Number(before.deleted) + 5004; i++) {
      await new Promise((r) => setTimeout(r, 50));
      after = await stats();
    }
    assert.equal(Number(after.deleted), Number(before.deleted) + 5004, "the tasks' deletes reported");
    assert.equal(Number(after.files) - Number(before.files), 0, "no temporary file written (before: 3 files, 22 MB, for these runs)");
  });

  it("takes a failed batch's part of a line back out of the export file, and removes nothing", async () => {
    const id = await endedRun("ret_export_def", 1200);
    const expected = await lineBefore(id);
    const file = () => readdirSync(exportDir).map((f) => path.join(exportDir, f))[0]!;
    const sizeBefore = statSync(file()).size;
    // The server's own store, its export cut off after the first page: the batch's connection is ended under it.
    const store = h.server.store;
    const cutting: Pick<Store, "removeEndedRuns" | "oldestEndedRun" | "retentionOverrides" | "removeIdleConcurrencyKeys"> = {
      removeEndedRuns: (f, limit, keep) =>
        store.removeEndedRuns(f, limit, async (lines) => {
          await keep!(
            (async function* () {
              for await (const text of lines) {
                yield text;
                await db.query(
                  `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                   WHERE datname = current_database() AND state = 'idle in transaction' AND backend_xid IS NOT NULL`,
                );
              }
            })(),
          );
        }),
      oldestEndedRun: () => store.oldestEndedRun(),
      retentionOverrides: () => store.retentionOverrides(),
      removeIdleConcurrencyKeys: (limit) => store.removeIdleConcurrencyKeys(limit),
    };
    const reaper = new Reaper(cutting, h.clock, createLogger("silent"), { exportDir }, new Registry());
    await assert.rejects(reaper.purge({ before: h.clock.now() + 1, workflow: "ret_export_def" }));
    assert.equal(statSync(file()).size, sizeBefore, "the part written is taken back");
    assert.equal(Number((await db.query("SELECT count(*) AS n FROM baton.runs WHERE id = $1", [id])).rows[0].n), 1, "the run stays");

    // The next batch writes the run whole, on a line of its own.
    const again = await h.client.purgeRuns(h.clock.now() + 1, { workflow: "ret_export_def" });
    assert.deepEqual([again.runs, again.tasks], [1, 1200]);
    const added = readFileSync(file()).subarray(sizeBefore).toString("utf8");
    assert.ok(added === expected, `the run's line, whole: ${added.length} characters, expected ${expected.length}`);
  });
});
