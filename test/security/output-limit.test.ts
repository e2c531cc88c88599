// System tasks' outputs obey the 2 MiB payload limit (issue 14, point 9).
// Before, an INLINE stored a 12 MB output, and a loop grew its stored output
// by one entry per iteration without bound; what workers send was the only
// output held to the limit.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { stringifyJson } from "@baton/protocol";
import { flowOf, oneLoop } from "../support/flows.js";
import { startHarness, startToEnd, type Harness } from "../support/harness.js";

const MiB = 1024 * 1024;
const LIMIT = 2 * MiB;

const inline = (ref: string, expression: string, extra: Record<string, unknown> = {}) => ({
  name: ref,
  taskReferenceName: ref,
  type: "INLINE",
  inputParameters: { evaluatorType: "graaljs", expression },
  ...extra,
});

const flows = [
  flowOf("big_inline", [inline("big", "'x'.repeat(3 * 1024 * 1024)")]),
  flowOf("big_optional", [inline("big", "'x'.repeat(3 * 1024 * 1024)", { optional: true }), inline("after", "'went on'")]),
  flowOf("big_jq", [
    {
      name: "jq",
      taskReferenceName: "jq",
      type: "JSON_JQ_TRANSFORM",
      inputParameters: { text: "${workflow.input.text}", queryExpression: "[.text, .text]" },
    },
  ]),
  oneLoop("growing_loop", { loopCondition: "$.loop['iteration'] < 40", inputParameters: {}, loopOver: [inline("chunk", "'y'.repeat(300 * 1024)")] }),
  oneLoop("kept_loop", { loopCondition: "$.loop['iteration'] < 12", inputParameters: { keepLastN: 2 }, loopOver: [inline("chunk", "'y'.repeat(300 * 1024)")] }),
];

let h: Harness;

before(async () => {
  h = await startHarness({ manualClock: false });
  for (const flow of flows) await h.client.registerWorkflowDef(flow);
});
after(() => h.close());

const ended = (name: string, input: Record<string, unknown> = {}) => startToEnd(h, name, input);

const bytes = (value: unknown) => Buffer.byteLength(stringifyJson(value as never));

describe("a system task's output over the payload limit", () => {
  it("fails an INLINE task, naming the limit, and stores none of it", async () => {
    const run = await ended("big_inline");
    assert.equal(run.status, "FAILED");
    const task = run.tasks[0]!;
    assert.equal(task.status, "FAILED");
    assert.match(task.reasonForIncompletion ?? "", new RegExp(`over the ${LIMIT}-byte payload limit`));
    assert.ok(bytes(task.outputData) < 1024, "the oversized output is not stored");
  });

  it("follows the task's failure policy: an optional task lets the run go on", async () => {
    const run = await ended("big_optional");
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(
      run.tasks.map((t) => [t.referenceTaskName, t.status]),
      [
        ["big", "COMPLETED_WITH_ERRORS"],
        ["after", "COMPLETED"],
      ],
    );
  });

  it("fails a jq transform whose result is over the limit", async () => {
    // Twice a 1.5 MiB input: a large result for little work.
    const run = await ended("big_jq", { text: "x".repeat(1.5 * MiB) });
    assert.equal(run.status, "FAILED");
    assert.match(run.tasks[0]?.reasonForIncompletion ?? "", /JSON_JQ_TRANSFORM output would be \d+ bytes, over the 2097152-byte payload limit/);
  });

  it("stops a loop before its stored output passes the limit", async () => {
    const run = await ended("growing_loop");
    assert.equal(run.status, "FAILED");
    const loop = run.tasks.find((t) => t.referenceTaskName === "loop")!;
    assert.equal(loop.status, "FAILED");
    assert.match(
      loop.reasonForIncompletion ?? "",
      /iteration \d+: DO_WHILE output would be \d+ bytes, over the 2097152-byte payload limit; keep fewer iterations \(keepLastN\)/,
    );
    const stored = bytes(loop.outputData);
    assert.ok(stored <= LIMIT, `the loop's stored output is ${stored} bytes`);
    assert.ok(stored > LIMIT - 400 * 1024, "the iterations that fit are kept");
  });

  it("lets a loop that keeps its last iterations run on", async () => {
    const run = await ended("kept_loop");
    assert.equal(run.status, "COMPLETED");
    const loop = run.tasks.find((t) => t.referenceTaskName === "loop")!;
    assert.deepEqual(
      Object.keys(loop.outputData ?? {}).filter((k) => /^\d+$/.test(k)),
      ["11", "12"],
    );
  });
});
