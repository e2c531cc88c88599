// Fair claims with two servers on one database (real PostgreSQL): one key's
// flood queued through one replica, a small key's runs through the other.
// Each replica deals its claims across the keys it knows: the keys it queued
// itself (noted as they commit) and those its reads of the queue find (the
// first claim of a type reads them; then at most every 250 ms), so a claim
// on either replica serves both keys in turn, whichever replica queued them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startHarness, type Harness } from "../support/harness.js";
import { input } from "../support/worker.js";
import { registerTenantFlow } from "./lib/tenant-flow.js";

let a: Harness;
let b: Harness;

const TYPE = "fair_two";

async function claim(h: Harness, count: number) {
  const { tasks } = await h.client.tasks.poll({ taskType: TYPE, workerId: "fair-two", count, waitMs: 1000n });
  return tasks.map((t) => String(input(t)["tenant"])).sort();
}

before(async () => {
  a = await startHarness();
  b = await startHarness({ databaseUrl: a.databaseUrl });
  await registerTenantFlow(a.client, TYPE);
});
after(async () => {
  await b.close();
  await a.close();
});

describe("fair claims across two replicas", () => {
  it("a claim on either replica serves a key queued through the other in turn", async () => {
    for (let i = 0; i < 40; i++) await a.client.startWorkflow("fair_two", { tenant: "big" });
    for (let i = 0; i < 4; i++) await b.client.startWorkflow("fair_two", { tenant: "small" });
    assert.deepEqual(await claim(a, 4), ["big", "big", "small", "small"], "a queued big itself and finds small, queued by b");
    assert.deepEqual(await claim(b, 4), ["big", "big", "small", "small"], "b queued small itself and finds big, queued by a");
    // Both keys' tasks went once each: the rest of the flood follows.
    const rest = await claim(a, 100);
    assert.equal(rest.length, 36);
    assert.ok(rest.every((t) => t === "big"));
  });
});
