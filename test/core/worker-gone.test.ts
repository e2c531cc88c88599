// A worker's Dispatch stream that ends with tasks written to it and not gone
// out (the worker granted credits, read nothing, and cancelled): those tasks
// go back to the queue at once and another worker runs them, not after their
// lease (grpc-js never calls back a write on a cancelled call, so the server
// knows which never went out). What went out keeps its lease: the worker may
// be running it. Real server, PostgreSQL, gRPC and workers; the clock does not
// move, so no lease runs out; the worker that reads nothing is behind a relay
// that stops reading, down to the socket.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BatonClient, Worker } from "@baton/client";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { relay } from "../support/relay.js";

const TYPE = "gone_worker";
/** Larger than the client's HTTP/2 stream window (64 KiB): a task this big cannot go out to a worker that reads nothing. */
const BLOB = "b".repeat(100 * 1024);

let h: Harness;

before(async () => {
  h = await startHarness({ manualClock: true });
  await h.client.registerTaskDefs([{ name: TYPE, retryCount: 0, responseTimeoutSeconds: 3600 }]);
  await h.client.registerWorkflowDef({
    name: TYPE,
    version: 1,
    schemaVersion: 2,
    tasks: [{ name: TYPE, taskReferenceName: "work", type: "SIMPLE", inputParameters: { n: "${workflow.input.n}", blob: "${workflow.input.blob}" } }],
    outputParameters: { by: "${work.output.by}" },
  });
});
after(() => h.close());

const inProgress = async () => Number((await h.client.tasks.listQueues({})).queues.find((q) => q.taskType === TYPE)?.inProgress ?? 0n);

describe("a worker gone with tasks written to its stream", () => {
  it("has what never went out handed to another worker at once; what went out keeps its lease", async () => {
    const link = await relay(h.server.address);
    const gone = new BatonClient({ address: link.address });
    await gone.tasks.listQueues({}); // connected
    link.stall();
    const stream = gone.tasks.dispatch();
    stream.on("error", () => {});
    stream.write({ kind: { case: "subscribe", value: { taskTypes: [TYPE], workerId: "gone", domain: "" } } });
    // A small task first: it fits the stream's window and goes out to the socket, though the worker never reads it.
    const small = await h.client.startWorkflow(TYPE, { n: 0, blob: "" });
    stream.write({ kind: { case: "credits", value: 1 } });
    await eventually(inProgress, (n) => n === 1);
    // Two large ones: written to the stream, neither can go out.
    const large = [await h.client.startWorkflow(TYPE, { n: 1, blob: BLOB }), await h.client.startWorkflow(TYPE, { n: 2, blob: BLOB })];
    stream.write({ kind: { case: "credits", value: 2 } });
    await eventually(inProgress, (n) => n === 3);

    const other = new Worker({ address: h.server.address, workerId: "other", onError: () => {} });
    other.handle(TYPE, () => ({ by: "other" }), { concurrency: 4 });
    try {
      stream.cancel();
      link.close();
      gone.close();
      other.start();
      for (const id of large) {
        const run = await eventually(
          async () => {
            const { status, output } = await h.client.getWorkflow(id);
            return { status, output };
          },
          (r) => r.status !== "RUNNING",
        );
        assert.deepEqual(run, { status: "COMPLETED", output: { by: "other" } });
      }
      // The small one went out: it stays leased to the worker that left until its lease runs out.
      await h.settle();
      assert.equal((await h.client.getWorkflow(small)).status, "RUNNING");
      assert.equal(await inProgress(), 1);
    } finally {
      await other.stop();
    }
  });
});
