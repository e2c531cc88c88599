// Fair claims across keys on a real server and PostgreSQL: a workflow's
// fairnessKey tags its runs' queued tasks, and a claim takes them round-robin
// across keys (the unkeyed ones as one more key; a key with a weight takes
// that many turns per round), priority first within a key; a flood of one key does not hold back another's tasks. A key
// expression that does not parse is refused, naming the field.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { grpc } from "@baton/protocol";
import { startHarness, type Harness } from "../support/harness.js";
import { input } from "../support/worker.js";

let h: Harness;

const flow = (name: string, type: string, fairnessKey?: string) => ({
  name,
  version: 1,
  schemaVersion: 2,
  ...(fairnessKey ? { fairnessKey } : {}),
  tasks: [{ name: type, taskReferenceName: "work", type: "SIMPLE", inputParameters: { tenant: "${workflow.input.tenant}", n: "${workflow.input.n}" } }],
});

async function claim(type: string, count: number) {
  const { tasks } = await h.client.tasks.poll({ taskType: type, workerId: "fair-test", count, waitMs: 1000n });
  return tasks.map((t) => input(t) as { tenant?: string; n: number });
}

before(async () => {
  h = await startHarness();
  await h.client.registerTaskDefs(["fair_a", "fair_b", "fair_c", "fair_d"].map((name) => ({ name, retryCount: 0, responseTimeoutSeconds: 3600 })));
});
after(() => h.close());

describe("fair claims across keys", () => {
  it("a claim takes one task of each key in turn, so a flood does not hold back a small key", async () => {
    await h.client.registerWorkflowDef(flow("fair_keyed", "fair_a", "${workflow.input.tenant}"));
    for (let i = 0; i < 60; i++) await h.client.startWorkflow("fair_keyed", { tenant: "big", n: i });
    for (let i = 0; i < 5; i++) await h.client.startWorkflow("fair_keyed", { tenant: "small", n: i });
    const first = await claim("fair_a", 10);
    assert.deepEqual(
      first.map((t) => t.tenant).sort(),
      [...Array(5).fill("big"), ...Array(5).fill("small")],
      "five rounds of two keys, although the small key's tasks came after sixty of the big one's",
    );
    assert.deepEqual(
      first
        .filter((t) => t.tenant === "big")
        .map((t) => t.n)
        .sort((a, b) => a - b),
      [0, 1, 2, 3, 4],
      "each key in its own order",
    );
    const rest = await claim("fair_a", 100);
    assert.equal(rest.length, 55);
    assert.ok(rest.every((t) => t.tenant === "big"));
  });

  it("keeps priority first within a key, and serves unkeyed runs of the same task type as one more key", async () => {
    await h.client.registerWorkflowDef(flow("fair_keyed_b", "fair_b", "${workflow.input.tenant}"));
    await h.client.registerWorkflowDef(flow("fair_plain_b", "fair_b"));
    for (let i = 0; i < 20; i++) await h.client.startWorkflow("fair_keyed_b", { tenant: "big", n: i });
    await h.client.startWorkflow("fair_keyed_b", { tenant: "big", n: 99 }, { priority: 9 });
    for (let i = 0; i < 3; i++) await h.client.startWorkflow("fair_plain_b", { n: 100 + i });
    const got = await claim("fair_b", 4);
    // Two of the big key's tasks: the urgent one (started last) and the oldest; not the second oldest.
    assert.deepEqual(
      got
        .filter((t) => t.tenant === "big")
        .map((t) => t.n)
        .sort((a, b) => a - b),
      [0, 99],
      "the urgent run's task first within its key",
    );
    assert.deepEqual(
      got
        .filter((t) => t.tenant === undefined || t.tenant === null)
        .map((t) => t.n)
        .sort(),
      [100, 101],
      "the unkeyed runs take turns too",
    );
    await claim("fair_b", 100);
  });

  it("spreads claims over more keys than one claim looks at", async () => {
    await h.client.registerWorkflowDef(flow("fair_many", "fair_c", "${workflow.input.tenant}"));
    // 100 keys of 2 tasks each: a claim looks at 64 keys, the next moves on.
    for (let k = 0; k < 100; k++) for (let i = 0; i < 2; i++) await h.client.startWorkflow("fair_many", { tenant: `t${String(k).padStart(3, "0")}`, n: i });
    const first = await claim("fair_c", 64);
    const second = await claim("fair_c", 64);
    const keys = new Set([...first, ...second].map((t) => t.tenant));
    assert.equal(keys.size, 100, "two claims of 64 reach every one of the 100 keys");
  });

  it("gives keys tasks in proportion to their weights (fairnessWeights), round-robin otherwise", async () => {
    await h.client.registerWorkflowDef({ ...flow("fair_weighted", "fair_d", "${workflow.input.tenant}"), fairnessWeights: { gold: 3 } });
    for (let i = 0; i < 30; i++) await h.client.startWorkflow("fair_weighted", { tenant: "basic", n: i });
    for (let i = 0; i < 30; i++) await h.client.startWorkflow("fair_weighted", { tenant: "gold", n: i });
    const got = await claim("fair_d", 8);
    assert.deepEqual(
      got.map((t) => t.tenant).sort(),
      [...Array(2).fill("basic"), ...Array(6).fill("gold")],
      "three of gold's for each of basic's, although basic's came first",
    );
    assert.deepEqual(
      got
        .filter((t) => t.tenant === "gold")
        .map((t) => t.n)
        .sort((a, b) => a - b),
      [0, 1, 2, 3, 4, 5],
      "each key in its own order",
    );
    const rest = await claim("fair_d", 100);
    assert.equal(rest.length, 52);
  });

  it("refuses a fairness key that does not parse, naming the field", async () => {
    for (const bad of ["${customerId}", "workflow.input.customerId", "${workflow.input}"]) {
      const refused = await h.client.registerWorkflowDef(flow("fair_bad", "fair_a", bad)).catch((e: { code: number; details: string }) => e);
      assert.equal((refused as { code: number }).code, grpc.status.INVALID_ARGUMENT, bad);
      assert.match((refused as { details: string }).details, /\/fairnessKey/);
    }
    const missing = await h.client.getWorkflowDef("fair_bad").catch((e: { code: number }) => e);
    assert.equal((missing as { code: number }).code, grpc.status.NOT_FOUND, "nothing stored");
  });
});
