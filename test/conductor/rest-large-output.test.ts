// A worker's large output sent over Conductor's REST API is parsed once on the
// serving thread: the request's body is read in the queries pool, which writes
// the output out as text, and the service parses that text, which is measured
// and stored as it is (each pass at 2 MB held the serving thread for several
// ms, tens with a long integer). It is still held to the payload checks, and
// stored exactly.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, startRestServer, type RestServer } from "./support.js";
import { flowOf } from "../support/flows.js";
import { largeParses } from "../support/native-parses.js";

let s: RestServer;
before(async () => {
  s = await startRestServer();
  await s.grpc.registerTaskDefs([{ name: "rest_large_step" }]);
  await s.grpc.registerWorkflowDef(flowOf("rest_large_output", [{ name: "rest_large_step", taskReferenceName: "step", type: "SIMPLE" }]));
});
after(() => s.close());

async function pollOne(): Promise<{ taskId: string; workflowInstanceId: string }> {
  const polled = await call(s.base, "GET", "/api/tasks/poll/batch/rest_large_step?workerid=w&count=1&timeout=5000");
  assert.equal(polled.status, 200, polled.text);
  return polled.json[0];
}

describe("a large output over REST", () => {
  it("is parsed once, and stored exactly", async () => {
    const id = await s.grpc.startWorkflow("rest_large_output", {});
    const task = await pollOne();
    const rows = Array.from({ length: 8_000 }, (_, i) => ({ id: i, name: `row "${i}" \u00e9\u20ac\ud83d\ude00`, note: "x".repeat(60) }));
    const output = `{"big":12345678901234567890123,"rows":${JSON.stringify(rows)}}`;
    const body = `{"taskId":"${task.taskId}","workflowInstanceId":"${id}","workerId":"w","status":"COMPLETED","outputData":${output}}`;
    const { result, parses } = await largeParses(output.length / 2, () => call(s.base, "POST", "/api/tasks", body));
    assert.equal(result.status, 200, result.text);
    // The output's parse by the service (a native parse of its text, and one of the text marked for its long integer);
    // the body itself is read in the pool, not here.
    assert.equal(parses, 2, "the output was parsed more than once");

    const run = await s.grpc.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    const stored = run.tasks[0]!.outputData as { big: bigint; rows: unknown[] };
    assert.equal(stored.big, 12345678901234567890123n);
    assert.deepEqual(stored.rows, rows);
  });

  it("is still held to the payload checks", async () => {
    await s.grpc.startWorkflow("rest_large_output", {});
    const task = await pollOne();
    // Deeper than a payload may nest (100), within what the whole body may (110): the payload's own check answers.
    const deep = `${'{"a":'.repeat(105)}1${"}".repeat(105)}`;
    const refused = await call(s.base, "POST", "/api/tasks", `{"taskId":"${task.taskId}","workerId":"w","status":"COMPLETED","outputData":${deep}}`);
    assert.equal(refused.status, 400, refused.text);
    assert.match(refused.text, /nests deeper than 100 levels/);
  });
});
