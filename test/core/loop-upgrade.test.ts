// Upgrading a database across the loop-iterations migration (a DO_WHILE's
// iteration outputs moved from the loop's output to a row each). A run that
// was inside a loop when the earlier server stopped continues on this one with
// every iteration's output. The earlier server cannot run beside this one (it
// reads loops without their entries and writes new ones where this version
// drops them: a mixed pair lost entries and failed loop conditions), so the
// migration is not applied while a replica of it beats: the server refuses to
// start and says what to stop. Real server and PostgreSQL; the earlier shape
// of a loop is written back by SQL, as the earlier server stored it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createLogger, startServer } from "@baton/server";
import { startHarness, type Harness } from "../support/harness.js";
import { freshDatabase, stopCluster } from "../support/database.js";
import { answer, input, mustPoll } from "../support/worker.js";
import { LOOP_ITERATIONS_MIGRATION, MOVE_LOOP_ENTRIES_SQL } from "../../server/src/store/loop-iterations.js";
import { LIVE_REPLICA_MS, MIGRATIONS, migrate } from "../../server/src/store/migrations.js";

const STEP = "upgrade_step";

after(() => stopCluster());

describe("a run inside a loop stored whole by the earlier server", () => {
  let h: Harness | undefined;
  let db: pg.Client;
  before(async () => {
    h = await startHarness();
    db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
  });
  after(async () => {
    await db.end();
    h?.client.close();
    await h?.server.close();
  });

  it("continues on this version after the migration moves its entries, with every iteration's output", async () => {
    await h!.client.registerTaskDefs([{ name: STEP, retryCount: 0, responseTimeoutSeconds: 3600 }]);
    await h!.client.registerWorkflowDef({
      name: "upgrade_loop",
      version: 1,
      schemaVersion: 2,
      tasks: [
        {
          name: "loop",
          taskReferenceName: "loop",
          type: "DO_WHILE",
          inputParameters: {},
          // Reads the first iteration's entry: it must be there for the loop to go on.
          loopCondition: "$.loop['iteration'] < $.loop['1'].s.limit",
          loopOver: [{ name: STEP, taskReferenceName: "s", type: "SIMPLE", inputParameters: { i: "${loop.output.iteration}" } }],
        },
      ],
      outputParameters: { loop: "${loop.output}" },
    });
    const id = await h!.client.startWorkflow("upgrade_loop", {});
    // Each step answers with the iteration its input names.
    const step = async (harness: Harness) => {
      const task = await mustPoll(harness, STEP);
      const i = input(task)["i"];
      await answer(harness, task, "COMPLETED", { i, limit: 4 });
      return i;
    };
    const done: unknown[] = [await step(h!), await step(h!)];
    h!.client.close();
    await h!.server.close();
    const databaseUrl = h!.databaseUrl;
    h = undefined;

    // The loop as the earlier server stored it (entries in its output), then the migration's move.
    const loopId = (await db.query("SELECT id FROM baton.tasks WHERE run_id = $1 AND type = 'DO_WHILE'", [id])).rows[0].id as string;
    await db.query(
      `UPDATE baton.tasks SET output = output || (SELECT jsonb_object_agg(iteration::text, output) FROM baton.loop_iterations WHERE task_id = $1) WHERE id = $1`,
      [loopId],
    );
    await db.query("DELETE FROM baton.loop_iterations WHERE task_id = $1", [loopId]);
    const stored = (await db.query("SELECT output FROM baton.tasks WHERE id = $1", [loopId])).rows[0].output as Record<string, unknown>;
    assert.deepEqual(Object.keys(stored).sort(), ["1", "2", "iteration"]);
    await db.query(MOVE_LOOP_ENTRIES_SQL);

    h = await startHarness({ databaseUrl });
    done.push(await step(h), await step(h));
    assert.deepEqual(done, [1, 2, 3, 4]);
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    const entry = (i: number) => ({ s: { i, limit: 4 } });
    assert.deepEqual(run.output["loop"], { "1": entry(1), "2": entry(2), "3": entry(3), "4": entry(4), iteration: 4 });
    assert.equal(Number((await db.query("SELECT count(*) AS n FROM baton.loop_iterations WHERE task_id = $1", [loopId])).rows[0].n), 4);
  });
});

describe("the loop-iterations migration", () => {
  it("is not applied while a replica of the earlier version runs: the server refuses to start, and says what to stop", async () => {
    const databaseUrl = await freshDatabase();
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      const at = MIGRATIONS.indexOf(LOOP_ITERATIONS_MIGRATION);
      assert.ok(at > 0);
      // The database as the earlier version left it, one of its replicas beating.
      await migrate(db, MIGRATIONS.slice(0, at - 1));
      await db.query("INSERT INTO baton.replicas (replica, workers, watching, beat_at) VALUES ('older', '[]', 0, $1)", [Date.now()]);
      // A migration that does not need them stopped is applied beside them (a rolling upgrade).
      assert.equal((await migrate(db, MIGRATIONS.slice(0, at))).applied, 1);

      const start = () => startServer({ databaseUrl, port: 0, logger: createLogger("silent") });
      const refused = await start().then(
        async (server) => {
          await server.close();
          return undefined;
        },
        (error: Error) => error,
      );
      assert.ok(refused, "the server started beside a replica of the earlier version");
      assert.match(refused.message, /^1 replica of an earlier Baton is running on this database \(last heartbeat \d+ s ago\)/);
      assert.match(refused.message, /loop iterations/);
      assert.match(refused.message, /Stop every replica of the earlier version, then start this one/);
      const table = async () => (await db.query("SELECT to_regclass('baton.loop_iterations')::text AS t")).rows[0].t as string | null;
      assert.equal(await table(), null, "nothing changed");

      // Killed, not stopped: its row stays, and stops counting after its last heartbeat is old enough.
      await db.query("UPDATE baton.replicas SET beat_at = $1", [Date.now() - LIVE_REPLICA_MS - 1000]);
      const server = await start();
      await server.close();
      assert.notEqual(await table(), null, "applied once it stopped");
    } finally {
      await db.end();
    }
  });
});
