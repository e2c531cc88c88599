// A run held in memory keeps its task book from one decision to the next
// (runtime/run-memory.ts): decided that way, a run must come out exactly as
// when every decision builds its book afresh from the tasks, and a task's row
// read again must take its old object's place in every lookup.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { TaskState } from "../../src/decider/model.js";
import { TaskBook } from "../../src/decider/task-book.js";
import { flowDef, simple, Sim } from "./sim.js";

// More iterations than one decision starts (ITERATION_BUDGET): the loop goes on over many decisions. Its body reads
// tasks by `${...}` names (the latest iteration's, by plain name), forks and joins, and switches.
const busyLoop = flowDef([
  {
    name: "outer",
    taskReferenceName: "outer",
    type: "DO_WHILE",
    inputParameters: { items: "${workflow.input.items}" },
    loopOver: [
      {
        name: "first",
        taskReferenceName: "first",
        type: "INLINE",
        inputParameters: { evaluatorType: "javascript", i: "${outer.output.index}", expression: "$.i * 2" },
      },
      { name: "second", taskReferenceName: "second", type: "NOOP", inputParameters: { from: "${first.output.result}", outer: "${outer.output.iteration}" } },
      { name: "fork", taskReferenceName: "fork", type: "FORK_JOIN", forkTasks: [[{ name: "a", taskReferenceName: "a", type: "NOOP" }], [simple("b")]] },
      { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: ["a", "b"] },
      {
        name: "pick",
        taskReferenceName: "pick",
        type: "SWITCH",
        evaluatorType: "value-param",
        expression: "even",
        inputParameters: { even: "${first.output.result}" },
        decisionCases: { "0": [{ name: "zero", taskReferenceName: "zero", type: "NOOP" }] },
        defaultCase: [{ name: "leaf", taskReferenceName: "leaf", type: "SET_VARIABLE", inputParameters: { last: "${second.input.from}" } }],
      },
    ],
  },
  { name: "after", taskReferenceName: "after", type: "NOOP", inputParameters: { n: "${outer.output.iteration}", leaf: "${leaf.input.last}" } },
]);

function driven(keepBook: boolean): Sim {
  const sim = new Sim(busyLoop, new Map(), { items: Array.from({ length: 130 }, (_, i) => i) }, {}, keepBook);
  for (let i = 1; i <= 130; i++) sim.finish(`b__${i}`, "COMPLETED", { i });
  return sim;
}

/** A run's tasks as stored, less what differs by nothing but the order ids were drawn in. */
const stored = (tasks: TaskState[]) => tasks.map(({ id: _id, leaseToken: _token, retriedTaskId: _retried, ...rest }) => rest);

describe("a task book kept across decisions", () => {
  it("decides a long loop with forks, switches and ${...} names exactly as fresh books do", () => {
    const kept = driven(true);
    const fresh = driven(false);
    assert.equal(kept.run.status, "COMPLETED", kept.run.reason);
    assert.equal(kept.latest("outer").output["iteration"], 130);
    assert.deepEqual(kept.latest("after").input, { n: 130, leaf: 258 });
    assert.deepEqual(stored(kept.tasks), stored(fresh.tasks));
    assert.deepEqual({ ...kept.run, updatedAt: 0 }, { ...fresh.run, updatedAt: 0 });
  });

  it("puts a task's row read again in its old object's place in every lookup", () => {
    const sim = new Sim(busyLoop, new Map(), { items: [1, 2] });
    const tasks = sim.tasks;
    const book = new TaskBook(tasks);
    const old = sim.latest("b__1");
    const row = { ...old, rev: old.rev + 1, status: "COMPLETED" as const };
    assert.equal(book.swap(row), true);
    const rebuilt = new TaskBook([...tasks]);
    for (const probe of [book, rebuilt]) {
      assert.equal(probe.find(row.id), row);
      assert.equal(probe.latest("b__1"), row);
      assert.equal(probe.named("b"), row, "the plain name stands for the latest iteration");
      assert.ok(probe.ofIteration(1).includes(row));
      assert.ok(!probe.ofIteration(1).includes(old));
      assert.equal(probe.nextEnded(), row, "an ended task not yet acted on is queued");
    }
    assert.deepEqual([...book.names()], [...rebuilt.names()]);
    assert.equal(book.swap({ ...row, id: "no-such-task" }), false);
  });
});
