// A key's publishes at the same instant do not pass its bound of waiting
// events together (BATON_MAX_WAITING_EVENTS_PER_KEY): each read the count as
// its statement began and counted itself after, so as many as were in flight
// at once got past the last place. Now a publish takes a place in a row of
// the key's count under that row's lock. The publishes are held on the rows
// of the count (locked by the test) until all are in flight, then let go
// together: with a bound of 3 and 6 publishes, exactly 3 are stored. The
// consumer is held meanwhile by a handler whose action waits on a run this
// test keeps locked, woken by an EVENT task's event (not counted).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

const BOUND = 3;
const AT_ONCE = 6;
let h: Harness;
let db: pg.Client;

before(async () => {
  h = await startHarness({ server: { limits: { waitingEventsPerKey: BOUND } } });
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
});
after(async () => {
  await db.end();
  await h.close();
});

/** Sessions of this database waiting for a lock. */
async function lockWaits(): Promise<number> {
  const { rows } = await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
  return rows[0].n as number;
}

/** Callers' events on the bus (EVENT tasks' are not counted). */
async function published(): Promise<number> {
  const { rows } = await db.query("SELECT count(*)::int AS n FROM baton.events WHERE root_id IS NULL");
  return rows[0].n as number;
}

describe("a key's waiting events at the edge of the bound", () => {
  it(`${AT_ONCE} publishes at once with ${BOUND} places left: ${BOUND} stored, the rest refused`, async () => {
    await h.client.registerWorkflowDef(flowOf("held", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
    await h.client.registerWorkflowDef(
      flowOf("holder", [
        { name: "pub", taskReferenceName: "pub", type: "EVENT", sink: "test:hold", inputParameters: { workflowId: "${workflow.input.held}" } },
      ]),
    );
    await h.client.registerEventHandler({
      name: "releaser",
      event: "test:hold",
      active: true,
      actions: [{ action: "complete_task", complete_task: { workflowId: "${workflowId}", taskRefName: "hold" } }],
    });
    const held = await h.client.startWorkflow("held", {});
    const runLock = new pg.Client({ connectionString: h.databaseUrl });
    const countLock = new pg.Client({ connectionString: h.databaseUrl });
    await runLock.connect();
    await countLock.connect();
    try {
      // The consumer's action on the locked run waits, and the consumer with it.
      await runLock.query("BEGIN");
      await runLock.query("SELECT 1 FROM baton.runs WHERE id = $1 FOR UPDATE", [held]);
      await h.client.startWorkflow("holder", { held });
      await eventually(lockWaits, (n) => n === 1);

      // Every row of the key's count (callers without keys are the key ''), held.
      await db.query("INSERT INTO baton.event_publishers (publisher, shard, waiting) SELECT '', s, 0 FROM generate_series(0, 15) s ON CONFLICT DO NOTHING");
      await countLock.query("BEGIN");
      await countLock.query("SELECT 1 FROM baton.event_publishers WHERE publisher = '' FOR UPDATE");
      const publishes = Array.from({ length: AT_ONCE }, (_, i) => h.client.publishEvent("test:edge", { i }));
      await eventually(lockWaits, (n) => n === 1 + AT_ONCE);
      await countLock.query("COMMIT");
      const outcomes = await Promise.allSettled(publishes);

      const refused = outcomes.filter((o) => o.status === "rejected").map((o) => (o.reason as { code?: number }).code);
      assert.equal(outcomes.length - refused.length, BOUND, `${BOUND} stored`);
      assert.deepEqual(refused, Array(AT_ONCE - BOUND).fill(8), "the rest refused RESOURCE_EXHAUSTED");
      assert.equal(await published(), BOUND, "on the bus");
      const { rows } = await db.query("SELECT sum(waiting)::int AS n FROM baton.event_publishers WHERE publisher = ''");
      assert.equal(rows[0].n, BOUND, "counted");
    } finally {
      await countLock.end();
      await runLock.end();
    }
    // Handled, they free their places.
    await eventually(published, (n) => n === 0);
    const { rows } = await db.query("SELECT sum(waiting)::int AS n FROM baton.event_publishers WHERE publisher = ''");
    assert.equal(rows[0].n, 0);
    await h.client.publishEvent("test:edge", { again: true });
  });
});
