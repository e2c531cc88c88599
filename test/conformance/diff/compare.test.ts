// The differential suite's comparison rules (the suite itself, against a real
// Conductor, is `npm run conformance:diff`).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { authoredTexts, differences, normaliseReason, snapshot, verdict } from "./compare.js";

const id = "0fdc3b66-4f06-463c-9a6b-d4113ef23f9a";
const child = "20b7da38-aa15-41ee-b0fa-9e40316f5eac";

describe("reasons", () => {
  const authored = authoredTexts([{ tasks: [{ inputParameters: { terminationReason: "child says no" } }] }]);

  it("keep Conductor's fixed formats and the texts a flow wrote, with ids normalised", () => {
    assert.equal(
      normaliseReason(`Task ${id} failed with status: FAILED and reason: 'Sub workflow kid.1/${child} failure reason: child says no'`, authored),
      "Task <id> failed: Sub workflow kid.1/<id> failure reason: child says no",
    );
    assert.equal(normaliseReason(`Workflow is COMPLETED by TERMINATE task: ${id}`, authored), "Workflow is COMPLETED by TERMINATE task: <id>");
    assert.equal(normaliseReason(`q/${id} completed with errors`, authored), "q/<id> completed with errors");
  });

  it("leave out an engine's own message, and the status word it puts in a task failure", () => {
    const nashorn = normaliseReason(
      `Task ${id} failed with status: FAILED and reason: 'ReferenceError: "x" is not defined in <eval> at line number 1'`,
      authored,
    );
    const baton = normaliseReason(`Task ${id} failed with status: FAILED_WITH_TERMINAL_ERROR and reason: 'ReferenceError: 'x' is not defined'`, authored);
    assert.equal(nashorn, "Task <id> failed: <message>");
    assert.equal(baton, nashorn);
    // A substring of a written text is not the text: only whole strings count.
    assert.equal(normaliseReason("child", authored), "<message>");
    assert.equal(normaliseReason("", authored), null);
  });
});

describe("snapshots and verdicts", () => {
  const run = (status: string, output: Record<string, unknown>) => ({
    workflowId: id,
    status,
    output,
    tasks: [
      { taskId: id, referenceTaskName: "a", taskType: "INLINE", status: "FAILED" },
      { taskId: child, referenceTaskName: "a", taskType: "INLINE", status: "COMPLETED" },
    ],
  });

  it("number a reference's second instance, and replace ids and engine-written errors in outputs", () => {
    const s = snapshot(run("COMPLETED", { sub: child, error: "TypeError: boom", nested: { error: "written" } }), new Set(["written"]));
    assert.deepEqual(Object.keys(s.tasks), ["a", "a#2"]);
    assert.deepEqual(s.output, { sub: "<id>", error: "<message>", nested: { error: "written" } });
  });

  it("a difference is on purpose only when a listed path covers it, and every listed path still differs", () => {
    const c = snapshot(run("COMPLETED", { r: { 0: 1, 1: 2 }, same: 1 }), new Set());
    const b = snapshot(run("COMPLETED", { r: [1, 2], same: 1 }), new Set());
    const found = differences(c, b);
    assert.deepEqual(
      found.map((d) => d.path),
      ["output.r"],
    );
    assert.equal(verdict(found, { "output.r": "Nashorn arrays" }).kind, "on purpose");
    assert.equal(verdict(found, { output: "whole output" }).kind, "on purpose");
    assert.equal(verdict(found).kind, "mistake");
    const stale = verdict(found, { "output.r": "Nashorn arrays", status: "no longer differs" });
    assert.deepEqual(stale, { kind: "mistake", unexpected: [], unmet: ["status"] });
    assert.equal(verdict(differences(c, c)).kind, "same");
    // Where Conductor races with itself, either outcome is accepted.
    assert.equal(verdict(found, {}, { "output.r": "Conductor's timing" }).kind, "same");
  });
});
