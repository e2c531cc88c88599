// The same source gives the same JSON, byte for byte, however often it is compiled.
import assert from "node:assert/strict";
import { test } from "node:test";
import { buildEveryTask } from "./fixtures-every-task.js";

test("compiling one flow twice gives identical bytes", () => {
  const flow = buildEveryTask();
  assert.equal(JSON.stringify(flow.toJSON()), JSON.stringify(flow.toJSON()));
  assert.equal(JSON.stringify(flow.taskDefs()), JSON.stringify(flow.taskDefs()));
});

test("building the same source twice gives identical bytes, derived names included", () => {
  assert.equal(JSON.stringify(buildEveryTask()), JSON.stringify(buildEveryTask()));
});

test("the compiled JSON is a fresh copy: mutating it does not change the flow", () => {
  const flow = buildEveryTask();
  const def = flow.toJSON();
  def.tasks.length = 0;
  assert.notEqual(flow.toJSON().tasks.length, 0);
});
