// An event handler's update_workflow_variables is applied once per event,
// however many times the event is taken: a consumer that stops between two
// actions (its first applied and committed, the event still on the bus)
// leaves the event to be taken again once its lease runs out, and the
// replica that takes it runs every action again. With appendArray, the
// first action appended a second time. Two replicas on one database and one
// clock; the first consumer is held between its actions by a row lock the
// test takes on the second action's run (as a consumer that died there
// would leave things, its lease then run out), and the test waits on
// PostgreSQL's lock waits, never on time.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { ManualClock } from "@baton/server";
import { eventually } from "../support/harness.js";
import { flowOf } from "../support/flows.js";
import { startTwoReplicas, type TwoReplicas } from "../support/replicas.js";

const clock = new ManualClock();
let r: TwoReplicas;
let db: pg.Client;

before(async () => {
  r = await startTwoReplicas({ clock });
  db = new pg.Client({ connectionString: r.databaseUrl });
  await db.connect();
  await r.ca.registerWorkflowDef({ ...flowOf("event_once_target", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]), variables: { seen: [] } });
  const append = (workflowId: string) => ({
    action: "update_workflow_variables",
    update_workflow_variables: { workflowId, variables: { seen: ["${n}"] }, appendArray: true },
  });
  await r.ca.registerEventHandler({ name: "event_once", event: "test:once", actions: [append("${first}"), append("${second}")], active: true });
});
after(async () => {
  await db.end();
  await r.close();
});

/** Sessions of this database waiting for a lock (the consumers held on the second run's row). */
async function lockWaits(): Promise<number> {
  const { rows } = await db.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'");
  return rows[0].n as number;
}

const seen = async (id: string) => ((await r.ca.getWorkflow(id)).variables as { seen: string[] }).seen;

describe("an event taken again after its consumer stopped between actions", () => {
  it("appends once to each run, and a run's records of handled events go at its next update", async () => {
    const first = await r.ca.startWorkflow("event_once_target", {});
    const second = await r.ca.startWorkflow("event_once_target", {});
    const locker = new pg.Client({ connectionString: r.databaseUrl });
    await locker.connect();
    try {
      await locker.query("BEGIN");
      await locker.query("SELECT 1 FROM baton.runs WHERE id = $1 FOR UPDATE", [second]);
      await r.ca.publishEvent("test:once", { first, second, n: "1" });
      // One replica's consumer has applied the first action and waits to apply the second.
      await eventually(lockWaits, (n) => n === 1);
      assert.deepEqual(await seen(first), ["1"]);
      // Its lease runs out: the other replica takes the event and runs its actions again, up to the second.
      clock.advance(61_000);
      await eventually(lockWaits, (n) => n === 2);
      assert.deepEqual(await seen(first), ["1"], "the first action, taken again, is not applied again");
      await locker.query("COMMIT");
      // Both go on: the second run's action, applied by whichever writes first, is refused to the other.
      await eventually(
        async () => (await db.query("SELECT count(*)::int AS n FROM baton.events")).rows[0].n as number,
        (n) => n === 0,
      );
      await eventually(lockWaits, (n) => n === 0);
      await r.a.settle();
      await r.b.settle();
      assert.deepEqual(await seen(second), ["1"]);
      assert.deepEqual(await seen(first), ["1"]);
    } finally {
      await locker.end();
    }

    // The next event's update drops the record of the one handled (its event has left the bus).
    await r.ca.publishEvent("test:once", { first, second, n: "2" });
    await r.a.settle();
    await r.b.settle();
    assert.deepEqual(await seen(first), ["1", "2"]);
    const { rows } = await db.query("SELECT extra->'eventActions' AS a FROM baton.runs WHERE id = $1", [first]);
    const records = rows[0].a as { event: number; action: string }[];
    assert.equal(records.length, 1, `one record, of the second event: ${JSON.stringify(records)}`);
    assert.equal(records[0]!.action, "event_once#0");
  });
});
