// A flow's declared inputs are checked when a run starts: a start missing a
// required input is refused with the missing names, nothing is started, and
// the CLI shows the refusal as a user sees it. Definitions without an
// inputSchema (plain Conductor JSON) start as before.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { grpc } from "@baton/protocol";
import { taskType, workflow } from "@baton/sdk";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const receipt = taskType<{ orderId: string }, { sent: boolean }>("run_input_receipt");
const order = workflow("run_input_order")
  .input<{ orderId: string; email: string; note?: string }>("orderId", "email")
  .steps((wf) => ({ sent: receipt.step("receipt", { orderId: wf.input.orderId }).output.sent }));

const refused = async (p: Promise<unknown>): Promise<{ code: number; details: string }> =>
  p.then(
    () => assert.fail("expected a refusal"),
    (e: { code: number; details: string }) => e,
  );

describe("run input", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ manualClock: false });
    await h.client.registerTaskDefs(order.taskDefs());
    await h.client.registerWorkflowDef(order.toJSON());
  });
  after(() => h.close());

  test("the builder writes the declared inputs as inputParameters and an enforced inputSchema", () => {
    const def = order.toJSON();
    assert.deepEqual(def.inputParameters, ["orderId", "email"]);
    assert.deepEqual(def.inputSchema, { name: "run_input_order_input", version: 1, type: "JSON", data: { type: "object", required: ["orderId", "email"] } });
    assert.equal(def.enforceSchema, true);
  });

  test("a start missing required inputs is refused with their names, and nothing starts", async () => {
    const before = (await h.client.searchWorkflows({ name: "run_input_order" })).workflows.length;
    const e = await refused(h.client.startWorkflow("run_input_order", { note: "hi" }));
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
    assert.equal(
      e.details,
      "run_input_order version 1 refused the input: missing required inputs: orderId, email (its inputSchema; enforceSchema: false in the definition turns the check off)",
    );
    const e2 = await refused(h.client.executeWorkflow("run_input_order", { orderId: "o-1" }));
    assert.match(e2.details, /missing required input: email \(/);
    assert.equal((await h.client.searchWorkflows({ name: "run_input_order" })).workflows.length, before);
  });

  test("a start with them runs; a typed start from the flow", async () => {
    const id = await h.client.startWorkflow(order, { orderId: "o-1", email: "a@example.com" });
    assert.equal((await h.client.getWorkflow(id)).status, "RUNNING");
  });

  test("the CLI shows the refusal as a user sees it (text and -o json)", async () => {
    const cli = (args: string[]) =>
      new Promise<{ code: number; stderr: string }>((resolve) =>
        execFile(
          process.execPath,
          [path.join(REPO, "packages/cli/bin/baton.js"), ...args],
          { env: { ...process.env, BATON_ADDRESS: h.server.address } },
          (error, _out, stderr) => resolve({ code: error ? Number(error.code) : 0, stderr }),
        ),
      );
    const text = await cli(["start", "run_input_order", "--input", "{}"]);
    assert.equal(text.code, 1);
    assert.equal(
      text.stderr,
      "error: the server refused the request: run_input_order version 1 refused the input: missing required inputs: orderId, email (its inputSchema; enforceSchema: false in the definition turns the check off)\n",
    );
    const json = await cli(["start", "run_input_order", "--input", "{}", "-o", "json"]);
    assert.equal(json.code, 1);
    assert.match((JSON.parse(json.stderr) as { error: { message: string } }).error.message, /missing required inputs: orderId, email/);
  });

  test("a JSON Schema's other rules, a default from inputTemplate, and enforceSchema: false", async () => {
    const base = flowOf("run_input_schema", [{ name: "noop", taskReferenceName: "noop", type: "NOOP" }]);
    await h.client.registerWorkflowDef({
      ...base,
      inputTemplate: { region: "eu" },
      inputSchema: { name: "s", type: "JSON", data: { type: "object", required: ["count", "region"], properties: { count: { type: "integer", minimum: 1 } } } },
    });
    const e = await refused(h.client.startWorkflow("run_input_schema", { count: 0 }));
    assert.match(e.details, /refused the input: input\.count must be >= 1 \(/);
    assert.equal((await h.client.executeWorkflow("run_input_schema", { count: 2 })).status, "COMPLETED", "region comes from inputTemplate");

    await h.client.registerWorkflowDef({
      ...base,
      version: 2,
      inputSchema: { name: "s", type: "JSON", data: { type: "object", required: ["count"] } },
      enforceSchema: false,
    });
    assert.equal((await h.client.executeWorkflow("run_input_schema", {}, { version: 2 })).status, "COMPLETED");
  });

  test("a pattern runs on RE2: a catastrophic one answers at once (issue 14, point 2)", async () => {
    // On JavaScript's backtracking engine `^(a+)+$` on 34 a's and a b takes minutes, on the thread that serves calls.
    await h.client.registerWorkflowDef({
      ...flowOf("run_input_pattern", [{ name: "noop", taskReferenceName: "noop", type: "NOOP" }]),
      inputSchema: { name: "s", type: "JSON", data: { type: "object", properties: { s: { type: "string", pattern: "^(a+)+$" } } } },
    });
    const e = await refused(h.client.startWorkflow("run_input_pattern", { s: `${"a".repeat(34)}b` }));
    assert.match(e.details, /refused the input: input\.s must match pattern/);
    assert.equal((await h.client.executeWorkflow("run_input_pattern", { s: "aaa" })).status, "COMPLETED");
  });

  test("uniqueItems is checked in one pass: many distinct objects are accepted, a duplicate in any key order refused (issue 14, point 2)", async () => {
    // ajv compared every pair of object items on the thread that serves calls: 20,000 distinct objects took 43 s, this input hours.
    await h.client.registerWorkflowDef({
      ...flowOf("run_input_unique", [{ name: "noop", taskReferenceName: "noop", type: "NOOP" }]),
      inputSchema: { name: "s", type: "JSON", data: { type: "object", properties: { xs: { type: "array", uniqueItems: true } } } },
    });
    const xs = Array.from({ length: 100_000 }, (_, i) => ({ a: i, b: [i % 7] }));
    assert.equal((await h.client.executeWorkflow("run_input_unique", { xs })).status, "COMPLETED");
    const e = await refused(h.client.startWorkflow("run_input_unique", { xs: [{ a: 1, b: [2] }, { a: 2 }, { b: [2], a: 1 }] }));
    assert.match(e.details, /refused the input: input\.xs must NOT have duplicate items \(items ## 0 and 2 are identical\)/);
    assert.equal(
      (await h.client.executeWorkflow("run_input_unique", { xs: [[1, 2], [2, 1], "1", 1] })).status,
      "COMPLETED",
      "arrays keep their order; types differ",
    );
  });

  test("Conductor JSON without an inputSchema starts as before, inputParameters or not", async () => {
    await h.client.registerWorkflowDef({
      ...flowOf("run_input_plain", [{ name: "noop", taskReferenceName: "noop", type: "NOOP" }]),
      inputParameters: ["orderId"],
    });
    assert.equal((await h.client.executeWorkflow("run_input_plain", {})).status, "COMPLETED");
  });
});
