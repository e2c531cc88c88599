// What one worker message may make the server do (issue 14, probing on).
// A Dispatch stream's subscribe named any number of task types, and each
// credits message then woke a claim per type: a worker key scoped "*"
// subscribing 20,000 types made each 2-byte credits message cost 20,000
// queries (on a `baton dev --auth` server, five such messages held /healthz
// for 1.4 s). A stream waits on at most 100 types now. A worker id goes on
// every task the worker is handed and into the replicas' heartbeats: it is a
// name (at most 512 characters), not a payload.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TaskStatus, type DispatchResponse } from "@baton/protocol";
import { flowOf } from "../support/flows.js";
import { startHarness, type Harness } from "../support/harness.js";

const FLOW = "subscribe_limits_flow";

/** Opens a stream, subscribes and grants one credit: the first task it is handed, or how it ended. */
async function subscribe(h: Harness, taskTypes: string[], workerId = "w"): Promise<string> {
  const stream = h.client.tasks.dispatch();
  try {
    return await new Promise<string>((resolve) => {
      // Before, the refused subscribe waited: a bounded test fails instead of hanging.
      setTimeout(() => resolve("no answer in 10 s"), 10_000).unref();
      stream.on("data", (m: DispatchResponse) => resolve(`task ${m.task?.taskType}`));
      stream.on("error", (error: Error) => resolve(error.message));
      stream.write({ kind: { case: "subscribe", value: { taskTypes, workerId, domain: "" } } });
      stream.write({ kind: { case: "credits", value: 1 } });
    });
  } finally {
    stream.cancel();
  }
}

describe("a worker's subscribe and worker id", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ manualClock: false });
  });
  after(() => h.close());

  it("a stream subscribing over 100 task types is refused, naming the count; 100 are served", async () => {
    const types = Array.from({ length: 20_000 }, (_, i) => `subscribe_type_${i}`);
    assert.equal(
      await subscribe(h, types),
      "3 INVALID_ARGUMENT: subscribe names 20000 task types, over the 100 a stream may wait on: open a stream per task type (as Baton's workers do), or several",
    );
    // Repeats count once.
    const hundred = types.slice(0, 100);
    await h.client.registerWorkflowDef(flowOf(FLOW, [{ name: hundred[99]!, taskReferenceName: "last", type: "SIMPLE" }]));
    await h.client.startWorkflow(FLOW, {});
    assert.equal(await subscribe(h, [...hundred, ...hundred]), `task ${hundred[99]}`);
  });

  it("a worker id over 512 characters is refused in subscribe, Poll and UpdateTask", async () => {
    const long = "w".repeat(4000);
    assert.match(await subscribe(h, ["subscribe_type_0"], long), /^3 INVALID_ARGUMENT: worker_id is 4000 characters long, over the 512 allowed$/);
    await assert.rejects(h.client.tasks.poll({ taskType: "subscribe_type_0", workerId: long, count: 1, waitMs: 0n }), /worker_id is 4000 characters long/);
    await assert.rejects(
      h.client.tasks.updateTask({
        result: { taskId: "00000000-0000-4000-8000-000000000000", leaseToken: "x", status: TaskStatus.COMPLETED, outputJson: "{}", workerId: long },
      }),
      /result\.worker_id is 4000 characters long/,
    );
  });
});
