// A fair claim keeps a key whose rows were committed while its statement ran
// (real PostgreSQL, the server's own claim on a FairClaims of the test's):
// the statement could not take those rows, and dropping the key left them
// waiting for the next read of the keys (up to 250 ms) behind a flooding key.
// The commit is stood in for deterministically: the small key's row is
// locked by another transaction (so the claim skips it and comes back short),
// and the key is noted, as after a commit, while the claim statement runs.
// Keys queued elsewhere (not noted here) are read again after 250 ms of the
// server's clock, so a test moves it rather than waits.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { FairClaims } from "../../server/src/store/fair-claim.js";
import { claim } from "../../server/src/store/queue.js";
import { startHarness, type Harness } from "../support/harness.js";
import { registerTenantFlow } from "./lib/tenant-flow.js";

let h: Harness;
let pool: NotingPool;
let locker: pg.Client;

/** A pool that runs `duringClaim` once a statement named `during` (a fair claim's, unless set) has run, before the claim looks at what it got. */
class NotingPool extends pg.Pool {
  duringClaim: (() => void) | undefined;
  during = "baton-claim-fair";
  override query(...args: unknown[]): never {
    const result = (super.query as (...a: unknown[]) => Promise<unknown>)(...args);
    const hook = this.duringClaim;
    if ((args[0] as { name?: string }).name !== this.during || !hook) return result as never;
    this.duringClaim = undefined;
    this.during = "baton-claim-fair";
    return result.then((r) => {
      hook();
      return r;
    }) as never;
  }
}

const TYPE = "note_fair";
const take = async (fair: FairClaims, count: number, type = TYPE) =>
  (await claim(pool, type, count, "note-test", h.clock.now(), randomUUID, {}, fair)).map((t) => String(t.input["tenant"])).sort();

before(async () => {
  h = await startHarness({ manualClock: true });
  pool = new NotingPool({ connectionString: h.databaseUrl, max: 2 });
  locker = new pg.Client({ connectionString: h.databaseUrl });
  await locker.connect();
  await registerTenantFlow(h.client, TYPE);
  await registerTenantFlow(h.client, "clock_fair");
  await registerTenantFlow(h.client, "read_fair");
});
after(async () => {
  await locker.end();
  await pool.end();
  await h.close();
});

describe("keys noted while a claim runs", () => {
  it("a key noted after the claim statement began stays in the rotation, and the next claim serves it", async () => {
    for (let i = 0; i < 10; i++) await h.client.startWorkflow("note_fair", { tenant: "big" });
    await h.client.startWorkflow("note_fair", { tenant: "small" });
    const fair = new FairClaims();
    assert.deepEqual(await take(fair, 4), ["big", "big", "big", "small"], "both keys are found and served in turn");
    assert.deepEqual(fair.keys(TYPE), ["big"], "small ran dry: it left the rotation");

    // Another small task whose row the claims cannot take yet (locked, as if not committed).
    await h.client.startWorkflow("note_fair", { tenant: "small" });
    await locker.query("BEGIN");
    await locker.query("SELECT 1 FROM baton.queue WHERE task_type = $1 AND fair_key = 'small' FOR UPDATE", [TYPE]);
    fair.noteQueued(TYPE, "small", 1, 0);
    assert.deepEqual(await take(fair, 2), ["big", "big"], "small's row was not there for this claim: its slot went to big");
    assert.deepEqual(fair.keys(TYPE), ["big"], "noted before the claim began, and found empty: dropped");

    fair.noteQueued(TYPE, "small", 1, 0);
    pool.duringClaim = () => fair.noteQueued(TYPE, "small", 1, 0);
    assert.deepEqual(await take(fair, 2), ["big", "big"]);
    assert.deepEqual(fair.keys(TYPE), ["big", "small"], "noted again while the statement ran: kept");
    await locker.query("ROLLBACK");
    assert.deepEqual(await take(fair, 2), ["big", "small"], "the next claim serves it");
  });
});

describe("keys noted while a claim reads the keys", () => {
  it("stays in the rotation when its row, committed after the claim's clock reading, was not there for the claim", async () => {
    for (let i = 0; i < 4; i++) await h.client.startWorkflow("read_fair", { tenant: "big" });
    const fair = new FairClaims();
    const claimedAt = h.clock.now();
    h.clock.advance(1);
    // Made ready after the claim read the clock (its row is not visible at claimedAt), committed and noted while the claim reads the keys.
    await h.client.startWorkflow("read_fair", { tenant: "small" });
    pool.during = "baton-fair-keys";
    pool.duringClaim = () => fair.noteQueued("read_fair", "small", 1, 0);
    const got = await claim(pool, "read_fair", 2, "note-test", claimedAt, randomUUID, {}, fair);
    assert.deepEqual(got.map((t) => String(t.input["tenant"])).sort(), ["big", "big"], "small's row was not visible yet: its slot went to big");
    assert.deepEqual(fair.keys("read_fair"), ["big", "small"], "noted after the claim began: kept for the next claim");
    assert.deepEqual(await take(fair, 2, "read_fair"), ["big", "small"]);
  });
});

describe("reading the keys waiting again", () => {
  it("trusts the keys it read for 250 ms of the server's clock, then finds one queued elsewhere", async () => {
    for (let i = 0; i < 6; i++) await h.client.startWorkflow("clock_fair", { tenant: "big" });
    const fair = new FairClaims();
    assert.deepEqual(await take(fair, 2, "clock_fair"), ["big", "big"]);
    const readAt = Date.now();
    // Queued through the server, whose notes this FairClaims does not get (as if through another replica).
    await h.client.startWorkflow("clock_fair", { tenant: "small" });
    // 250 ms of the machine's time pass, not of the server's: it is the server's that counts.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, readAt + 260 - Date.now())));
    assert.deepEqual(await take(fair, 2, "clock_fair"), ["big", "big"], "the keys read are trusted: the server's clock has not moved");
    h.clock.advance(250);
    assert.deepEqual(await take(fair, 2, "clock_fair"), ["big", "small"], "250 ms later by the server's clock, they are read again");
  });
});
