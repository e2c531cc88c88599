// The builder's output: Conductor JSON for every task type, byte for byte.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { imagePipeline } from "../examples/image-pipeline.js";
import { compile, expr, Flow, taskType, TaskStub, validateWorkflowDef, workflow } from "../src/index.js";
import { buildEveryTask } from "./fixtures-every-task.js";

const expected = (name: string) => readFileSync(new URL(`./expected/${name}`, import.meta.url), "utf8");
const pretty = (v: unknown) => JSON.stringify(v, null, 2) + "\n";

test("a flow with every task type compiles to the expected JSON, byte for byte", () => {
  assert.equal(pretty(buildEveryTask().toJSON()), expected("every-task.json"));
});

test("the compiled flows are valid Conductor definitions with no diagnostics", () => {
  for (const flow of [buildEveryTask(), imagePipeline]) {
    assert.deepEqual(flow.validate(), []);
    assert.deepEqual(validateWorkflowDef(flow.toJSON()).errors, []);
  }
});

test("the image pipeline example compiles to the expected JSON", () => {
  assert.equal(pretty(compile(imagePipeline)), expected("image-pipeline.json"));
  assert.deepEqual(
    imagePipeline.taskDefs().map((d) => d.name),
    ["encode", "ingest", "notify", "publish_cdn"],
  );
});

test("a small flow, written out by hand: refs, derived names, fork and join", () => {
  const encode = taskType<{ src: string; format: string }, { url: string }>("encode", { retryCount: 3, timeoutSeconds: 600 });
  const flow = workflow("hand")
    .input<{ src: string }>()
    .steps((wf) => {
      const fan = wf.fork({
        branches: [[encode.step({ src: wf.input.src, format: "mp4" })], [encode.step({ src: wf.input.src, format: "webm" })]],
      });
      return { mp4: fan.join.output["encode"], all: fan.join.output };
    });
  assert.deepEqual(flow.toJSON(), {
    name: "hand",
    version: 1,
    tasks: [
      {
        name: "fork",
        taskReferenceName: "fork",
        type: "FORK_JOIN",
        forkTasks: [
          [{ name: "encode", taskReferenceName: "encode", inputParameters: { src: "${workflow.input.src}", format: "mp4" }, type: "SIMPLE" }],
          [{ name: "encode", taskReferenceName: "encode_2", inputParameters: { src: "${workflow.input.src}", format: "webm" }, type: "SIMPLE" }],
        ],
      },
      { name: "join", taskReferenceName: "fork_join", type: "JOIN", joinOn: ["encode", "encode_2"] },
    ],
    outputParameters: { mp4: "${fork_join.output.encode}", all: "${fork_join.output}" },
    schemaVersion: 2,
  });
  assert.deepEqual(flow.taskDefs(), [{ name: "encode", retryCount: 3, timeoutSeconds: 600 }]);
});

test("refs render Conductor paths: dots, indexes, quoted keys, templates", () => {
  const t = taskType<{ s: string; n: unknown }, { list: { id: string }[]; "content-type": string; "it's": string }>("t");
  const flow = workflow("paths").steps(() => {
    const a = t.step("a", { s: "x", n: null });
    t.step("b", { s: `id=${a.output.list[2]!.id}`, n: [a.output["content-type"], a.output["it's"], a.input.s] });
  });
  assert.deepEqual(flow.toJSON().tasks[1]?.inputParameters, {
    s: "id=${a.output.list[2].id}",
    n: ["${a.output['content-type']}", "${a.output['it\\'s']}", "${a.input.s}"],
  });
  assert.equal(JSON.stringify({ r: expr<string>("workflow.input.x") }), '{"r":"${workflow.input.x}"}');
});

test("flows and task types are recognisable by type, across copies of the package", () => {
  const flow = workflow("f").steps(() => undefined);
  assert.equal(Flow.is(flow), true);
  assert.equal(Flow.is({ name: "f" }), false);
  assert.equal(TaskStub.is(taskType("x")), true);
  assert.equal((flow as unknown as Record<symbol, unknown>)[Symbol.for("baton.flow")], true);
});

test("steps made outside a flow body are placed with wf.add", () => {
  const t = taskType<{ v: number }, { w: number }>("t");
  const shared = t.step("shared", { v: 1 });
  const flow = workflow("adds").steps((wf) => {
    const first = t.step("first", { v: 0 });
    wf.add(shared);
    t.step("last", { v: first.output.w });
  });
  assert.deepEqual(
    flow.toJSON().tasks.map((x) => x.taskReferenceName),
    ["first", "shared", "last"],
  );
});
