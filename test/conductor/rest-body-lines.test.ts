// Large REST bodies are read in the queries pool in two lines of one thread
// each: a publish's body in the line its definition is then checked in (the
// metadata service's), other bodies (task results, starts) in one of their
// own. Before, every body waited in one line, beside the publishes' checks in
// another: a publisher's bodies of 4 MiB held back every worker's large result
// (up to 1.9 s each in the probe, while publishes' checks took the pool's
// other thread from runs' filters). Held here with a lock on the pool's
// requests, not timed: a publish's body read is held until a task result's
// body has been read.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
// The server's own module (the package's build), whose pool the server runs its requests in.
import { EvaluationPool } from "../../server/dist/sandbox/pool.js";
import { call, startRestServer, type RestServer } from "./support.js";
import { flowOf, holdingItems } from "../support/flows.js";

let s: RestServer;
before(async () => {
  s = await startRestServer();
  await s.grpc.registerTaskDefs([{ name: "body_lines_step" }]);
  await s.grpc.registerWorkflowDef(flowOf("body_lines", [{ name: "body_lines_step", taskReferenceName: "step", type: "SIMPLE" }]));
});
after(() => s.close());

type PoolRequest = { kind?: string; view?: string };

describe("large REST bodies in the queries pool", () => {
  it("a worker's result is read while a publish's body read is held", async () => {
    const id = await s.grpc.startWorkflow("body_lines", {});
    const polled = await call(s.base, "GET", "/api/tasks/poll/batch/body_lines_step?workerid=w&count=1&timeout=5000");
    const task = (polled.json as { taskId: string }[])[0]!;

    const { run } = EvaluationPool.prototype;
    let releasePublish!: () => void;
    const publishHeld = new Promise<void>((resolve) => (releasePublish = resolve));
    let publishAsked!: () => void;
    const publishReading = new Promise<void>((resolve) => (publishAsked = resolve));
    const order: string[] = [];
    EvaluationPool.prototype.run = async function (this: EvaluationPool<PoolRequest, never>, request: PoolRequest, limitMs: number) {
      if (request.kind === "body" && request.view === "definition") {
        order.push("publish body asked");
        publishAsked();
        await publishHeld;
      }
      if (request.kind === "body" && request.view === "taskResult") {
        order.push("result body asked");
        // The publish's read is let go once this one is asked: before, this never came while it was held.
        releasePublish();
      }
      return run.call(this, request, limitMs);
    } as typeof run;
    // Before, the result waited behind the held read for good: let it go after a while, for the test to fail, not hang.
    const fallback = setTimeout(() => {
      order.push("publish let go by the fallback");
      releasePublish();
    }, 60_000);
    try {
      const published = call(s.base, "POST", "/api/metadata/workflow", JSON.stringify(holdingItems("body_lines_publish", 10_000)));
      await publishReading;
      const output = { rows: Array.from({ length: 5_000 }, (_, i) => ({ id: i, label: `row ${i}` })) };
      const body = JSON.stringify({ taskId: task.taskId, workflowInstanceId: id, workerId: "w", status: "COMPLETED", outputData: output });
      const [result, publish] = await Promise.all([call(s.base, "POST", "/api/tasks", body), published]);
      assert.equal(result.status, 200, result.text);
      assert.equal(publish.status, 200, publish.text);
      assert.deepEqual(order, ["publish body asked", "result body asked"]);
      assert.deepEqual((await s.grpc.getWorkflow(id)).tasks[0]!.outputData, output);
    } finally {
      clearTimeout(fallback);
      EvaluationPool.prototype.run = run;
    }
  });
});
