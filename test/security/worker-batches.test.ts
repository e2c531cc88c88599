// An UpdateTasks call carries at most 1,000 results (Baton's workers send at
// most 256). Each result is a lookup and an update, and for a worker key
// scoped to its task types each task id is read once more to check its type:
// one 4 MB message of 60,000 results for task ids that do not exist kept the
// server busy 37 s with 120,000 queries. Now such a call is refused before
// any of them, naming the count, whatever the key.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { TaskStatus } from "@baton/protocol";
import type { BatonClient } from "@baton/client";
import { startSecureServer, type SecureServer } from "./support.js";

let s: SecureServer;
let scoped: BatonClient;
let admin: BatonClient;

before(async () => {
  s = await startSecureServer();
  scoped = await s.clientWithNewKey({ role: "worker", taskTypes: ["batch_type"], name: "batch-worker" });
  admin = await s.clientWithNewKey({ role: "admin", taskTypes: [], name: "batch-admin" });
});
after(() => s?.close());

const results = (n: number) =>
  Array.from({ length: n }, () => ({ taskId: randomUUID(), leaseToken: "x", status: TaskStatus.COMPLETED, outputJson: "{}", workerId: "w" }));

describe("an UpdateTasks call's results", () => {
  it("over 1,000 are refused before any is looked up, for a scoped worker key and an admin key alike", async () => {
    for (const client of [scoped, admin]) {
      await assert.rejects(client.tasks.updateTasks({ results: results(5000) }), (error: Error) => {
        assert.equal(error.message, "3 INVALID_ARGUMENT: UpdateTasks carries 5000 results, over the 1000 one call may: send them in several calls");
        return true;
      });
    }
  });

  it("1,000 are answered, one outcome each", async () => {
    const { outcomes } = await scoped.tasks.updateTasks({ results: results(1000) });
    assert.equal(outcomes.length, 1000);
    assert.ok(outcomes.every((o) => o.code === 5 && !o.applied));
  });
});
