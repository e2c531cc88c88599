// Large bodies of Conductor's REST publishes and starts are read in the queries
// pool (issue 14): the serving thread once scanned, parsed, validated and wrote
// out again each one, and at 4 MiB a publish held it 100-500 ms for a name and
// a version. The serving thread (this test's, the server's) now neither parses
// such a body's text nor writes its payloads out as JSON; the pool answers the
// same refusals, and what is stored is what was sent.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { call, startRestServer, type RestServer } from "./support.js";
import { flowOf, holdingItems } from "../support/flows.js";
import { jsonDuring, textsOfAtLeast } from "../support/turns.js";

const ITEMS = 20_000;

let s: RestServer;
before(async () => {
  s = await startRestServer();
});
after(() => s.close());

describe("a large REST body", () => {
  it("published is read in the pool, and stored as sent", async () => {
    const def = holdingItems("rest_large_publish", ITEMS);
    const text = JSON.stringify(def);
    const { result, parsedIn, writes } = await jsonDuring(textsOfAtLeast(text.length / 2), () => call(s.base, "POST", "/api/metadata/workflow", text));
    assert.equal(result.status, 200, result.text);
    assert.deepEqual({ parses: parsedIn.length, writes }, { parses: 0, writes: 0 }, "the body was parsed or written out on the serving thread");
    const stored = await call(s.base, "GET", "/api/metadata/workflow/rest_large_publish?version=1");
    assert.equal(stored.status, 200, stored.text);
    assert.deepEqual((stored.json as { tasks: unknown }).tasks, def.tasks);

    // Written with white space, as a list: each definition is written out compactly in the pool.
    const defs = [holdingItems("rest_large_list_a", ITEMS / 2), holdingItems("rest_large_list_b", ITEMS / 2)];
    const pretty = JSON.stringify(defs, undefined, 2);
    const listed = await jsonDuring(textsOfAtLeast(text.length / 4), () => call(s.base, "PUT", "/api/metadata/workflow", pretty));
    assert.equal(listed.result.status, 200, listed.result.text);
    assert.deepEqual(
      { parses: listed.parsedIn.length, writes: listed.writes },
      { parses: 0, writes: 0 },
      "the list was parsed or written out on the serving thread",
    );
    for (const d of defs) {
      const got = await call(s.base, "GET", `/api/metadata/workflow/${d.name}?version=1`);
      assert.deepEqual((got.json as { tasks: unknown }).tasks, d.tasks);
    }
  });

  it("starting a run is read in the pool: only the run's input is parsed, by the service", async () => {
    await s.grpc.registerWorkflowDef(flowOf("rest_large_start", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
    const input = { rows: Array.from({ length: ITEMS }, (_, i) => ({ id: i, label: `row ${i}` })) };
    const body = JSON.stringify({ name: "rest_large_start", correlationId: "large", input });
    // Texts as long as the body: its input alone is shorter.
    const { result, parsedIn, writes } = await jsonDuring(textsOfAtLeast(body.length), () => call(s.base, "POST", "/api/workflow", body));
    assert.equal(result.status, 200, result.text);
    assert.deepEqual({ parses: parsedIn.length, writes }, { parses: 0, writes: 0 }, "the body was parsed or written out on the serving thread");
    const run = await s.grpc.getWorkflow(result.text);
    assert.equal(run.correlationId, "large");
    assert.deepEqual(run.input, input);

    // Started by name, the body is the input.
    const byName = await call(s.base, "POST", "/api/workflow/rest_large_start?correlationId=by_name", JSON.stringify(input));
    assert.equal(byName.status, 200, byName.text);
    const started = await s.grpc.getWorkflow(byName.text);
    assert.equal(started.correlationId, "by_name");
    assert.deepEqual(started.input, input);
  });

  it("of a worker's result is read in the pool: only its output's text is parsed, by the service", async () => {
    await s.grpc.registerTaskDefs([{ name: "rest_large_result_step" }]);
    await s.grpc.registerWorkflowDef(flowOf("rest_large_result", [{ name: "rest_large_result_step", taskReferenceName: "step", type: "SIMPLE" }]));
    const output = { rows: Array.from({ length: ITEMS }, (_, i) => ({ id: i, label: `row ${i}` })) };
    for (const path of ["/api/tasks", "/api/tasks/update-v2"]) {
      const id = await s.grpc.startWorkflow("rest_large_result", {});
      const polled = await call(s.base, "GET", "/api/tasks/poll/batch/rest_large_result_step?workerid=w&count=1&timeout=5000");
      const task = (polled.json as { taskId: string }[])[0]!;
      const body = JSON.stringify({
        taskId: task.taskId,
        workflowInstanceId: id,
        workerId: "w",
        status: "COMPLETED",
        outputData: output,
        logs: [{ log: "done" }],
      });
      // Texts as long as the body (its output alone is shorter); written: as long as its output.
      const parsed = await jsonDuring(textsOfAtLeast(body.length), () => call(s.base, "POST", path, body));
      assert.ok(parsed.result.status === 200 || parsed.result.status === 204, parsed.result.text);
      assert.equal(parsed.parsedIn.length, 0, `${path}: the body was parsed on the serving thread`);
      const run = await s.grpc.getWorkflow(id);
      assert.equal(run.status, "COMPLETED");
      assert.deepEqual(run.tasks[0]!.outputData, output);
      const logs = await call(s.base, "GET", `/api/tasks/${task.taskId}/log`);
      assert.deepEqual(
        (logs.json as { log: string }[]).map((l) => l.log),
        ["done"],
      );
    }

    // A task signalled by its reference: the body is its output, whose text the service parses (before, the body's too).
    await s.grpc.registerWorkflowDef(flowOf("rest_large_signal", [{ name: "wait", taskReferenceName: "wait", type: "WAIT" }]));
    const waiting = await s.grpc.startWorkflow("rest_large_signal", {});
    const body = JSON.stringify(output);
    const { result, parsedIn } = await jsonDuring(textsOfAtLeast(body.length), () => call(s.base, "POST", `/api/tasks/${waiting}/wait/COMPLETED`, body));
    assert.equal(result.status, 200, result.text);
    assert.equal(parsedIn.length, 1, "the body was parsed on the serving thread before its output");
    assert.deepEqual((await s.grpc.getWorkflow(waiting)).tasks[0]!.outputData, output);
  });

  it("is refused as a small one is, field named, nothing stored", async () => {
    const def = holdingItems("rest_large_refused", ITEMS);
    const text = JSON.stringify(def);
    const broken = await call(s.base, "POST", "/api/metadata/workflow", text.slice(0, -1));
    assert.equal(broken.status, 400, broken.text);
    assert.match((broken.json as { message: string }).message, /^the request body is not valid JSON: /);

    const { name: _name, ...nameless } = def;
    const unnamed = await call(s.base, "POST", "/api/metadata/workflow", JSON.stringify(nameless));
    assert.equal(unnamed.status, 400, unnamed.text);
    assert.deepEqual((unnamed.json as { validationErrors: unknown }).validationErrors, [{ path: "name", message: "is required" }]);

    const deep = `{"name":"rest_large_deep","tasks":[],"pad":"${"x".repeat(100_000)}","deep":${"[".repeat(200)}${"]".repeat(200)}}`;
    const tooDeep = await call(s.base, "POST", "/api/metadata/workflow", deep);
    assert.equal(tooDeep.status, 400, tooDeep.text);
    assert.match((tooDeep.json as { message: string }).message, /nests deeper than 110 levels/);

    const badStart = await call(
      s.base,
      "POST",
      "/api/workflow",
      JSON.stringify({ name: "rest_large_start", input: { pad: "x".repeat(100_000) }, priority: 100 }),
    );
    assert.equal(badStart.status, 400, badStart.text);
    assert.deepEqual((badStart.json as { validationErrors: unknown }).validationErrors, [{ path: "priority", message: "must be <= 99", invalidValue: 100 }]);

    for (const name of ["rest_large_refused", "rest_large_deep"]) assert.equal((await call(s.base, "GET", `/api/metadata/workflow/${name}`)).status, 404);
  });
});
