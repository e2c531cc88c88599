// A key may leave at most BATON_MAX_WAITING_EVENTS_PER_KEY published events
// not yet handled (issue 14): nothing bounded them, and one key could fill
// the bus's table with millions. Past the bound a publish is refused and
// stores nothing; other keys publish as before; handled events free their
// places. The consumer is held meanwhile by a handler whose action waits on a
// run this test keeps locked.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { serverOptionsFromEnv } from "@baton/server";
import { flowOf } from "../support/flows.js";
import { eventually } from "../support/harness.js";
import { startSecureServer, type SecureServer } from "./support.js";

const BOUND = 3;

let s: SecureServer;
let db: pg.Client;

before(async () => {
  s = await startSecureServer({ limits: { waitingEventsPerKey: BOUND } });
  db = new pg.Client({ connectionString: s.databaseUrl });
  await db.connect();
});
after(async () => {
  await db.end();
  await s.close();
});

/** Events of `keyId` on the bus. */
async function onBus(keyId: string): Promise<number> {
  const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM baton.events WHERE publisher = $1", [keyId]);
  return rows[0]!.n;
}

describe("the events a key leaves waiting are bounded", () => {
  it("refuses a key's event past the bound, storing nothing, leaves other keys alone, and frees places as events are handled", async () => {
    const admin = await s.clientWithNewKey({ role: "admin", name: "admin" });
    await admin.registerWorkflowDef(flowOf("held", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
    await admin.registerEventHandler({
      name: "releaser",
      event: "test:hold",
      active: true,
      actions: [{ action: "complete_task", complete_task: { workflowId: "${workflowId}", taskRefName: "hold" } }],
    });
    const held = await admin.startWorkflow("held", {});
    await eventually(
      () => admin.getWorkflow(held),
      (run) => run.tasks.some((t) => t.status === "IN_PROGRESS"),
    );

    // The consumer's action on the locked run waits, and the consumer with it.
    await db.query("BEGIN");
    await db.query("SELECT 1 FROM baton.runs WHERE id = $1 FOR UPDATE", [held]);
    await admin.publishEvent("test:hold", { workflowId: held });
    await eventually(
      async () => (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted")).rows[0]!.n,
      (waiting) => waiting > 0,
    );

    const greedy = await s.registry.create({ role: "operator", name: "greedy" });
    const other = await s.registry.create({ role: "operator", name: "other" });
    for (let i = 0; i < BOUND; i++) await s.client(greedy.key).publishEvent("test:greedy", { i });
    await assert.rejects(s.client(greedy.key).publishEvent("test:greedy", { i: BOUND }), (error: Error & { code?: number }) => {
      assert.equal(error.code, 8, "RESOURCE_EXHAUSTED");
      assert.match(error.message, new RegExp(`this key has ${BOUND} published events not yet handled.*BATON_MAX_WAITING_EVENTS_PER_KEY.*publish again once`));
      return true;
    });
    assert.equal(await onBus(greedy.record.id), BOUND, "the refused event is not stored");
    for (let i = 0; i < BOUND; i++) await s.client(other.key).publishEvent("test:other", { i });
    assert.equal(await onBus(other.record.id), BOUND);

    await db.query("ROLLBACK");
    await eventually(
      async () => (await onBus(greedy.record.id)) + (await onBus(other.record.id)),
      (left) => left === 0,
    );
    const { rows } = await db.query<{ waiting: number }>("SELECT coalesce(sum(waiting), 0)::int AS waiting FROM baton.event_publishers WHERE publisher = $1", [
      greedy.record.id,
    ]);
    assert.equal(rows[0]!.waiting, 0, "handled events are no longer counted");
    for (let i = 0; i < BOUND; i++) await s.client(greedy.key).publishEvent("test:greedy", { again: i });
    assert.equal((await admin.getWorkflow(held)).status, "COMPLETED");
  });

  it("a key's publish does not wait for the count its other publishes hold", async () => {
    const steady = await s.registry.create({ role: "operator", name: "steady" });
    const client = s.client(steady.key);
    // What a publish of the key does until it commits: hold the row it takes a place in. Each row with room (a
    // bound of 3: rows 0 to 2 hold one each) held in turn, with none of the key's events waiting.
    for (let shard = 0; shard < BOUND; shard++) {
      await client.publishEvent("test:steady", {});
      await eventually(
        () => onBus(steady.record.id),
        (left) => left === 0,
      );
      await db.query("BEGIN");
      await db.query("SELECT 1 FROM baton.event_publishers WHERE publisher = $1 AND shard = $2 FOR UPDATE", [steady.record.id, shard]);
      let outcome: string | undefined;
      const published = client.publishEvent("test:steady", {}).then(() => (outcome ??= "published"));
      while (outcome === undefined) {
        const { rows } = await db.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_locks WHERE NOT granted");
        if (rows[0]!.n > 0) outcome ??= "waited for the held count";
        else await new Promise((resolve) => setTimeout(resolve, 5));
      }
      await db.query("ROLLBACK");
      await published;
      assert.equal(outcome, "published", `row ${shard} held`);
    }
  });

  it("BATON_MAX_WAITING_EVENTS_PER_KEY must be a positive whole number", () => {
    assert.equal(serverOptionsFromEnv({ BATON_MAX_WAITING_EVENTS_PER_KEY: "500" }).limits?.waitingEventsPerKey, 500);
    for (const bad of ["0", "-1", "1.5", "many", String(2 ** 31)])
      assert.throws(() => serverOptionsFromEnv({ BATON_MAX_WAITING_EVENTS_PER_KEY: bad }), /BATON_MAX_WAITING_EVENTS_PER_KEY must be a positive whole number/);
  });
});
