// A run's own output obeys the 2 MiB payload limit (issue 14, point 9): its
// outputParameters may gather several task outputs, each under the limit,
// into one over it. Before, such a run COMPLETED and stored its 3 MiB output.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { stringifyJson } from "@baton/protocol";
import { startHarness, startToEnd, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

const MiB = 1024 * 1024;
const LIMIT = 2 * MiB;

const inline = (ref: string, expression: string) => ({
  name: ref,
  taskReferenceName: ref,
  type: "INLINE",
  inputParameters: { evaluatorType: "graaljs", expression },
});
// Two outputs of 1.5 MiB each: within the limit one by one, over it together.
const halves = [inline("a", "'a'.repeat(1.5 * 1024 * 1024)"), inline("b", "'b'.repeat(1.5 * 1024 * 1024)")];
const gather = { a: "${a.output.result}", b: "${b.output.result}" };

const flows = [
  flowOf("gathers_too_much", halves, gather),
  flowOf("fails_gathering_too_much", [...halves, inline("boom", "(function () { throw new Error('boom'); })()")], gather),
  flowOf("gathers_enough", halves, { a: "${a.output.result}" }),
];

let h: Harness;

before(async () => {
  h = await startHarness({ manualClock: false });
  for (const flow of flows) await h.client.registerWorkflowDef(flow);
});
after(() => h.close());

const ended = (name: string) => startToEnd(h, name, {}, { includeTasks: false });

const bytes = (value: unknown) => Buffer.byteLength(stringifyJson(value as never));
const OVER = new RegExp(`the workflow's output would be \\d+ bytes, over the ${LIMIT}-byte payload limit`);

describe("a run's output over the payload limit", () => {
  it("fails a run that was completing, naming the limit, and stores none of the output", async () => {
    const run = await ended("gathers_too_much");
    assert.equal(run.status, "FAILED");
    assert.match(run.reasonForIncompletion ?? "", OVER);
    assert.ok(bytes(run.output) < 1024, `the oversized output is not stored (${bytes(run.output)} bytes)`);
  });

  it("keeps a failing run's status and reason, and says why its output is missing", async () => {
    const run = await ended("fails_gathering_too_much");
    assert.equal(run.status, "FAILED");
    assert.match(run.reasonForIncompletion ?? "", /boom/);
    assert.match(run.reasonForIncompletion ?? "", OVER);
    assert.ok(bytes(run.output) < 1024);
  });

  it("completes a run whose output is within the limit", async () => {
    const run = await ended("gathers_enough");
    assert.equal(run.status, "COMPLETED");
    assert.equal((run.output as { a: string }).a.length, 1.5 * MiB);
  });
});
