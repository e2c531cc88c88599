// A definition's graph: the tasks nested under a task (a loop's body with the
// cases and branches inside it) are found once and kept with the graph, which
// is shared and never changes; a loop asks for them at each iteration.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Graph } from "../../src/decider/graph.js";
import { flowDef } from "./sim.js";

const def = flowDef([
  {
    name: "loop",
    taskReferenceName: "loop",
    type: "DO_WHILE",
    loopCondition: "false",
    loopOver: [
      {
        name: "pick",
        taskReferenceName: "pick",
        type: "SWITCH",
        evaluatorType: "value-param",
        expression: "k",
        decisionCases: { a: [{ name: "a", taskReferenceName: "a", type: "NOOP" }] },
        defaultCase: [{ name: "d", taskReferenceName: "d", type: "NOOP" }],
      },
      {
        name: "fork",
        taskReferenceName: "fork",
        type: "FORK_JOIN",
        forkTasks: [[{ name: "b1", taskReferenceName: "b1", type: "NOOP" }], [{ name: "b2", taskReferenceName: "b2", type: "NOOP" }]],
      },
      { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: ["b1", "b2"] },
    ],
  },
  { name: "after", taskReferenceName: "after", type: "NOOP" },
]);

describe("a definition's graph", () => {
  it("finds the tasks nested under a task once, and gives the same set when asked again", () => {
    const graph = new Graph(def);
    const body = graph.descendants("loop");
    assert.deepEqual([...body].sort(), ["a", "b1", "b2", "d", "fork", "join", "pick"]);
    assert.equal(graph.descendants("loop"), body, "made again");
    assert.deepEqual([...graph.descendants("pick")].sort(), ["a", "d"]);
    assert.deepEqual([...graph.descendants("after")], []);
    assert.deepEqual([...graph.descendants("unknown")], []);
  });
});
