// A worker key cannot hold a task for years by extending its lease (issue 14, point 10).
import assert from "node:assert/strict";
import { after, before, it } from "node:test";
import { codeOf, startSecureServer, type SecureServer } from "./support.js";
import { flowOf } from "../support/flows.js";

let s: SecureServer;
before(async () => {
  s = await startSecureServer();
});
after(() => s.close());

it("refuses extend_seconds beyond a day, and extends within it", async () => {
  const admin = await s.clientWithNewKey({ role: "admin", name: "admin" });
  const worker = await s.clientWithNewKey({ role: "worker", taskTypes: ["held"], name: "holder" });
  await admin.registerWorkflowDef(flowOf("held_flow", [{ name: "held", taskReferenceName: "held", type: "SIMPLE" }]));
  await admin.startWorkflow("held_flow", {});
  const [task] = (await worker.tasks.poll({ taskType: "held", workerId: "holder", count: 1, waitMs: 5000n })).tasks;
  assert.ok(task);
  const extend = (extendSeconds: bigint) => worker.tasks.extendLease({ taskId: task.taskId, leaseToken: task.leaseToken, extendSeconds });
  assert.equal(await codeOf(extend(1_000_000_000n)), "INVALID_ARGUMENT");
  assert.equal(await codeOf(extend(24n * 3600n + 1n)), "INVALID_ARGUMENT");
  assert.equal(await codeOf(extend(3600n)), "OK");
});
