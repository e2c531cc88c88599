// An update leaves out a payload (input, output) only when the object is the
// one noted as stored for that very row (read under its lock, or written by a
// committed batch).
// Anything else (a replaced object, the same object on another row, an
// object never noted) is written.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { rowToRun, rowToTask, runRows, taskRows, updateRow, type Row } from "../../src/store/rows.js";
import { noteStored } from "../../src/store/stored-payloads.js";

/** Whether the row's JSON, what the statement reads, holds the payload. */
const written = (row: Row, payload: "input" | "output") => payload in (JSON.parse(JSON.stringify(row)) as Row);
const taskRow = (id: string) => ({ id, run_id: "r", seq: 1, ref: "t", type: "NOOP", input: { items: [1, 2, 3] }, output: { done: true }, extra: {} });
/** A task as read and noted. */
const readTask = (id: string) => {
  const task = rowToTask(taskRow(id));
  noteStored(task);
  return task;
};

describe("payloads an update leaves out", () => {
  it("a task's payloads as noted are left out; a replaced one is written", () => {
    const task = readTask("a");
    assert.ok(!written(updateRow(taskRows, task), "input"));
    assert.ok(!written(updateRow(taskRows, task), "output"));
    task.output = { ...task.output, more: 1 };
    assert.deepEqual(updateRow(taskRows, task)["output"], { done: true, more: 1 });
    assert.ok(!written(updateRow(taskRows, task), "input"));
  });

  it("the same object on another row, or never noted, is written", () => {
    const a = readTask("a");
    const b = { ...readTask("b"), input: a.input };
    assert.deepEqual(updateRow(taskRows, b)["input"], { items: [1, 2, 3] });
    const fresh = { ...a, id: "c", input: { x: 1 }, output: { y: 2 } };
    assert.deepEqual(updateRow(taskRows, fresh)["input"], { x: 1 });
    assert.deepEqual(updateRow(taskRows, fresh)["output"], { y: 2 });
  });

  it("what a committed batch wrote is left out of the next update; a run's too", () => {
    const task = { ...rowToTask(taskRow("d")), output: { written: true } };
    assert.ok(written(updateRow(taskRows, task), "output"));
    noteStored(task);
    assert.ok(!written(updateRow(taskRows, task), "output"));
    const run = rowToRun({ id: "run-1", input: { big: "x".repeat(100) }, output: {}, variables: {}, extra: {} });
    assert.ok(written(updateRow(runRows, run), "input"), "not noted: written");
    noteStored(run);
    // The decider copies a run per decision and shares its payloads: the copy's are still the stored ones.
    const copy = { ...run, status: "COMPLETED" as const };
    assert.ok(!written(updateRow(runRows, copy), "input"));
    assert.equal(updateRow(runRows, copy)["status"], "COMPLETED");
  });
});
