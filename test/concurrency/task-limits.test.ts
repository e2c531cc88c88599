// A task type's limit of tasks in progress per key (TaskDef
// concurrentExecLimitPerKey, Baton's field; the key is the run's fairness
// key) on a real server and PostgreSQL: claims stop handing out a key's
// tasks at the limit, other keys keep theirs, and a finished task makes room.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { grpc } from "@baton/protocol";
import { startHarness, type Harness } from "../support/harness.js";
import { answer, input } from "../support/worker.js";

let h: Harness;

const flow = (name: string, fairnessKey?: string) => ({
  name,
  version: 1,
  schemaVersion: 2,
  ...(fairnessKey ? { fairnessKey } : {}),
  tasks: [{ name: "per_key", taskReferenceName: "work", type: "SIMPLE", inputParameters: { tenant: "${workflow.input.tenant}", n: "${workflow.input.n}" } }],
});

async function claim(count: number) {
  const { tasks } = await h.client.tasks.poll({ taskType: "per_key", workerId: "per-key-test", count, waitMs: 0n });
  return tasks;
}
const tenants = (tasks: Awaited<ReturnType<typeof claim>>) => tasks.map((t) => String((input(t) as { tenant?: string }).tenant ?? "-")).sort();

before(async () => {
  h = await startHarness();
  await h.client.registerTaskDefs([{ name: "per_key", retryCount: 0, responseTimeoutSeconds: 3600, concurrentExecLimitPerKey: 2 }]);
});
after(() => h.close());

describe("tasks in progress per key", () => {
  it("holds each key to the limit and lets another key's tasks through", async () => {
    await h.client.registerWorkflowDef(flow("per_key_keyed", "${workflow.input.tenant}"));
    await h.client.registerWorkflowDef(flow("per_key_plain"));
    for (let n = 0; n < 5; n++) await h.client.startWorkflow("per_key_keyed", { tenant: "a", n });
    for (let n = 0; n < 5; n++) await h.client.startWorkflow("per_key_keyed", { tenant: "b", n });
    for (let n = 0; n < 3; n++) await h.client.startWorkflow("per_key_plain", { n });
    const first = await claim(20);
    assert.deepEqual(tenants(first), ["-", "-", "a", "a", "b", "b"], "two of each key, the unkeyed runs as one more key");
    assert.equal((await claim(20)).length, 0, "every key is at its limit");
    // One of a's tasks ends: a has room for one more, the others none.
    await answer(
      h,
      first.find((t) => (input(t) as { tenant?: string }).tenant === "a")!,
      "COMPLETED",
    );
    await h.settle();
    assert.deepEqual(tenants(await claim(20)), ["a"]);
  });

  it("refuses a per-key limit below 1, naming the field", async () => {
    const refused = await h.client.registerTaskDefs([{ name: "per_key_bad", concurrentExecLimitPerKey: 0 }]).catch((e: { code: number; details: string }) => e);
    assert.equal((refused as { code: number }).code, grpc.status.INVALID_ARGUMENT);
    assert.match((refused as { details: string }).details, /concurrentExecLimitPerKey/);
  });
});
