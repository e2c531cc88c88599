// Dispatch honours the stream's back-pressure (issue 14, point 12). Before,
// a worker that granted credits and never read made the server claim (and
// lease to it) every task its credits allowed and hold them all in memory,
// waiting to be written. Now the server stops handing tasks to a stream whose
// writes wait, and goes on when they have gone out.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import type { DispatchResponse } from "@baton/protocol";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { relay } from "../support/relay.js";
import { flowOf } from "../support/flows.js";

const TASKS = 200;
const flow = flowOf("bulk_flow", [{ name: "bulk", taskReferenceName: "bulk", type: "SIMPLE", inputParameters: { blob: "${workflow.input.blob}" } }]);

let h: Harness;

before(async () => {
  h = await startHarness({ manualClock: false });
  await h.client.registerTaskDefs([{ name: "bulk", retryCount: 0, responseTimeoutSeconds: 3600 }]);
  await h.client.registerWorkflowDef(flow);
  const input = { blob: "b".repeat(256 * 1024) };
  for (let i = 0; i < TASKS; i++) await h.client.startWorkflow(flow.name, input);
});
after(() => h.close());

const depth = async () => (await h.client.tasks.listQueues({})).queues.find((q) => q.taskType === "bulk");

describe("a Dispatch stream whose worker does not read", () => {
  it("is handed no more tasks than the stream can take, and gets the rest once it reads", async () => {
    const link = await relay(h.server.address);
    const worker = new BatonClient({ address: link.address });
    try {
      await worker.tasks.listQueues({}); // connected
      link.stall();
      const stream = worker.tasks.dispatch();
      stream.on("error", () => {}); // the relay's teardown ends it
      stream.write({ kind: { case: "subscribe", value: { taskTypes: ["bulk"], workerId: "never-reads", domain: "" } } });
      stream.write({ kind: { case: "credits", value: 100_000 } });
      await eventually(depth, (q) => (q?.inProgress ?? 0n) > 0n);
      // Let every claim the server would make happen, then look again.
      await new Promise((r) => setTimeout(r, 1500));
      const held = Number((await depth())?.inProgress ?? 0n);
      assert.ok(held <= 128, `the server leased ${held} of ${TASKS} tasks to a stream that reads nothing`);
      assert.equal(Number((await depth())?.ready ?? 0n), TASKS - held, "the rest wait in the queue for other workers");

      // Reading now, the worker gets every task.
      let received = 0;
      stream.on("data", (message: DispatchResponse) => {
        if (message.task) received++;
      });
      link.resume();
      await eventually(
        async () => received,
        (n) => n === TASKS,
        30_000,
      );
      stream.end();
    } finally {
      worker.close();
      link.close();
    }
  });
});
