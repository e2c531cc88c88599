// A task type goes back to the plain claim once no keyed rows of it wait: its
// unkeyed rows took turns as the key '' beside the keyed ones, and that lane
// stayed in the rotation after the keyed rows ran out, so the type's claims
// went on through the fair path (and its streams kept slots for quiet keys)
// for as long as unkeyed rows were queued. Keyed rows queued again bring the
// turns back. Real PostgreSQL and server; the store's claim is driven here on
// a FairClaims of the test's, whose statements are counted by name.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { FairClaims } from "../../server/src/store/fair-claim.js";
import { claim } from "../../server/src/store/queue.js";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { holdingWorker } from "./lib/holding-worker.js";
import { registerTenantFlow } from "./lib/tenant-flow.js";

let h: Harness;
let pool: CountingPool;

/** A pool that counts the named statements it runs. */
class CountingPool extends pg.Pool {
  readonly names: string[] = [];
  override query(...args: unknown[]): never {
    const name = (args[0] as { name?: string }).name;
    if (name) this.names.push(name);
    return (super.query as (...a: unknown[]) => unknown)(...args) as never;
  }
}

/** Registers `type` (keyed by tenant, through registerTenantFlow) and `<type>_plain`, a flow of the same task with no key. */
async function registerFlows(type: string): Promise<void> {
  await registerTenantFlow(h.client, type);
  await h.client.registerWorkflowDef({
    name: `${type}_plain`,
    version: 1,
    schemaVersion: 2,
    tasks: [{ name: type, taskReferenceName: "work", type: "SIMPLE", inputParameters: { tenant: "-" } }],
  });
}

const queue = async (type: string, tenant: string | undefined, n: number) => {
  for (let i = 0; i < n; i++) await h.client.startWorkflow(tenant === undefined ? `${type}_plain` : type, tenant === undefined ? {} : { tenant });
};

before(async () => {
  h = await startHarness({ manualClock: true });
  pool = new CountingPool({ connectionString: h.databaseUrl, max: 2 });
});
after(async () => {
  await pool.end();
  await h.close();
});

describe("a type with no keyed rows left", () => {
  it("is claimed plainly once its keyed rows run out, and in turns again once keyed rows return", async () => {
    const type = "plain_again";
    await registerFlows(type);
    await queue(type, "big", 2);
    await queue(type, undefined, 4);
    const fair = new FairClaims();
    const take = async (count: number) => {
      pool.names.length = 0;
      const tasks = await claim(pool, type, count, "plain-test", h.clock.now(), randomUUID, {}, fair);
      return tasks.map((t) => String(t.input["tenant"])).sort();
    };

    assert.deepEqual(await take(2), ["-", "big"], "the unkeyed rows take turns with the keyed ones");
    assert.deepEqual(await take(2), ["-", "big"]);
    // big's two rows were counted when the keys were read, and both are claimed: the type leaves the fair path
    // with this claim, not at the next one, which would have found big's share short.
    assert.equal(fair.backlogged(type), false, "no keyed rows wait: the type is off the fair path");
    assert.deepEqual(await take(2), ["-", "-"]);
    assert.ok(!pool.names.includes("baton-claim-fair"), `claimed plainly (${pool.names.join(", ")})`);
    assert.equal(fair.handOffRoom(type, "", 0), "any", "and a task made ready may go to any free slot");

    await queue(type, undefined, 3);
    fair.noteQueued(type, "", 1, 0);
    h.clock.advance(250);
    assert.deepEqual(await take(2), ["-", "-"]);
    assert.ok(!pool.names.includes("baton-claim-fair"), `claimed plainly (${pool.names.join(", ")})`);
    assert.ok(pool.names.includes("baton-claim"));
    assert.equal(fair.backlogged(type), false, "unkeyed rows queued and read again do not make it fair");

    await queue(type, "big", 2);
    fair.noteQueued(type, "big", 1, 0);
    assert.ok(fair.backlogged(type), "a keyed row queued here makes it fair at once");
    assert.deepEqual(await take(2), ["-", "big"], "in turns again, the unkeyed rows as one more key");
    assert.ok(pool.names.includes("baton-claim-fair"));
    assert.deepEqual(await take(10), ["big"]);
  });

  it("gives a stream's every slot to an unkeyed flood that follows a keyed one", async () => {
    const type = "plain_slots";
    await registerFlows(type);
    await queue(type, "big", 2);
    await queue(type, undefined, 40);
    // The server's own claims (polls) take the keyed rows, and the unkeyed ones with them in turn.
    const { tasks } = await h.client.tasks.poll({ taskType: type, workerId: "drain", count: 6, waitMs: 1000n });
    assert.equal(tasks.length, 6);

    const { received, stop } = holdingWorker(h, type, "slots-worker", () => true);
    try {
      // Were the type still fair, one of the 32 slots would be kept for a quiet key, and 31 filled.
      await eventually(
        async () => received.length,
        (n) => n === 32,
      );
      assert.ok(received.every((t) => t === "-"));
    } finally {
      await stop();
    }
  });
});
