// Runs kept in memory between events are bounded by the bytes of their
// payloads, not only by count (issue 14, point 12). Before, 5,000 runs or
// 200,000 tasks could be kept whatever their inputs and outputs weighed: wide
// runs of 64 tasks with 1 MiB outputs were all kept. A run's weight is kept
// per task and brought up to date from the tasks a decision changed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Decision } from "../../src/decider/decider.js";
import type { JsonObject, RunState, TaskState } from "../../src/decider/model.js";
import type { Definitions } from "../../src/runtime/definitions.js";
import { Loader } from "../../src/runtime/load.js";
import { measureRun } from "../../src/runtime/run-bytes.js";
import { KEEP_MIN_TASKS, RunMemory } from "../../src/runtime/run-memory.js";

const MiB = 1024 * 1024;

const run = (id: string): RunState => ({ id, status: "RUNNING", input: {}, output: {}, variables: {}, reason: "" }) as unknown as RunState;
const task = (runId: string, i: number, output: JsonObject = {}): TaskState =>
  ({ id: `${runId}-t${i}`, runId, type: "SIMPLE", status: "SCHEDULED", rev: 1, input: {}, output, reason: "", leaseToken: "" }) as unknown as TaskState;

function decision(runId: string, tasks: TaskState[], changed: TaskState[] = tasks, removed: string[] = []): Decision {
  return { run: run(runId), tasks, changed: new Set(changed), removed, effects: [], applied: [] } as unknown as Decision;
}

/** A wide run (kept in memory whatever its tasks' states) with one output of `bytes`. */
function wideRun(runId: string, bytes: number): TaskState[] {
  return Array.from({ length: KEEP_MIN_TASKS }, (_, i) => task(runId, i, i === 0 ? { blob: "x".repeat(bytes) } : {}));
}

describe("runs kept in memory", () => {
  it("are bounded by the bytes of their payloads: the least recently written go first", () => {
    const memory = new RunMemory({ maxBytes: 10 * MiB });
    for (let r = 0; r < 20; r++) {
      const id = `r${r}`;
      memory.keep({ runId: id, rev: 1, decision: decision(id, wideRun(id, MiB)), existing: new Set() });
    }
    const { runs, bytes } = memory.size();
    assert.ok(bytes <= 10 * MiB, `${bytes} bytes kept`);
    assert.ok(runs >= 8 && runs < 20, `${runs} runs kept`);
    assert.ok(memory.has("r19"), "the last written is kept");
    assert.ok(!memory.has("r0"), "the first written went");
  });

  it("keep a run's weight up to date from the tasks each decision changes", () => {
    const memory = new RunMemory();
    const tasks = wideRun("w", 1_000);
    memory.keep({ runId: "w", rev: 1, decision: decision("w", tasks), existing: new Set() });
    const first = memory.size().bytes;
    assert.equal(first, measureRun(decision("w", tasks)).total);

    // The run comes back for an event: one task gets a big output, one is removed, one is added.
    const taken = memory.take("w")!;
    assert.equal(memory.size().bytes, 0);
    const grown = taken.tasks.slice(1);
    grown[0] = { ...grown[0]!, output: { big: "y".repeat(100_000) } };
    const added = task("w", 999, { note: "new" });
    grown.push(added);
    memory.keep({ runId: "w", rev: 2, decision: decision("w", grown, [grown[0]!, added], [tasks[0]!.id]), existing: new Set([grown[0]!.id]) });
    assert.equal(memory.size().bytes, measureRun(decision("w", grown)).total, "the same as measuring every task again");
    assert.ok(memory.size().bytes > first + 90_000);

    // Ended: nothing of it is left.
    const ended = decision("w", grown, []);
    ended.run.status = "COMPLETED";
    memory.keep({ runId: "w", rev: 3, decision: ended, existing: new Set() });
    assert.deepEqual(memory.size(), { runs: 0, tasks: 0, bytes: 0 });
  });

  it("a kept run is decided from its kept row, whose payloads are measured already", async () => {
    const memory = new RunMemory();
    const loader = new Loader({ getRun: () => Promise.reject(new Error("read again")) }, {} as Definitions, memory);
    const kept = decision("k", wideRun("k", 10));
    kept.run.input = { big: "x".repeat(100_000) };
    memory.keep({ runId: "k", rev: 4, decision: kept, existing: new Set() });
    // The event locks the run and reads its row again: the same revision, new objects.
    const row = { ...kept.run, input: { big: "x".repeat(100_000) } };
    const state = await loader.state({} as never, "k", { run: row, rev: 4, tasks: undefined, fresh: [] });
    // The input measured when the run was kept, not one to measure again on every decision.
    assert.equal(state.run.input, kept.run.input);
    assert.equal(state.tasks, kept.tasks);
  });
});
