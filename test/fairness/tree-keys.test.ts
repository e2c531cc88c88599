// A run tree takes its turns in the fair claims as its root's key: a run
// another run starts (a SUB_WORKFLOW child, a START_WORKFLOW run, a failure
// workflow) whose own workflow names no fairnessKey takes the key of the run
// that started it. Before, a keyed parent's children were keyless: its fork
// of 10,000 (within a tree's bound) queued its tasks as the key '', ahead of
// every unkeyed run's task of the same type, which then waited for the whole
// tree, and passed at commit as a quiet key's. Counted in claims, on a real
// server and PostgreSQL, no worker attached.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";
import { input } from "../support/worker.js";

const TYPE = "tree_fair";
const CHILDREN = 30;
let h: Harness;

const oneTask = (name: string, fairnessKey?: string) => ({
  ...flowOf(name, [{ name: TYPE, taskReferenceName: "work", type: "SIMPLE", inputParameters: { who: "${workflow.input.who}" } }]),
  ...(fairnessKey ? { fairnessKey } : {}),
});

before(async () => {
  h = await startHarness();
  await h.client.registerTaskDefs([{ name: TYPE, retryCount: 0, responseTimeoutSeconds: 3600 }]);
  await h.client.registerWorkflowDef(oneTask("tree_fair_child"));
  await h.client.registerWorkflowDef(oneTask("tree_fair_small", "${workflow.input.tenant}"));
  await h.client.registerWorkflowDef(oneTask("tree_fair_plain"));
  await h.client.registerWorkflowDef({
    ...flowOf("tree_fair_parent", [
      {
        name: "fork",
        taskReferenceName: "fork",
        type: "FORK_JOIN_DYNAMIC",
        inputParameters: { dynamicTasks: "${workflow.input.tasks}", dynamicTasksInput: "${workflow.input.inputs}" },
        dynamicForkTasksParam: "dynamicTasks",
        dynamicForkTasksInputParamName: "dynamicTasksInput",
      },
      { name: "join", taskReferenceName: "join", type: "JOIN" },
    ]),
    fairnessKey: "${workflow.input.tenant}",
  });
});
after(() => h.close());

describe("a run tree's fairness key", () => {
  it("a keyed parent's children take its key's turns, not the unkeyed runs'", async () => {
    const tasks = Array.from({ length: CHILDREN }, (_, i) => ({
      name: "tree_fair_child",
      taskReferenceName: `child_${i}`,
      type: "SUB_WORKFLOW",
      subWorkflowParam: { name: "tree_fair_child" },
    }));
    const inputs = Object.fromEntries(tasks.map((t) => [t.taskReferenceName, { who: "tree" }]));
    // Answered once its children are started (a run's caller waits for the starts its decision asked for).
    await h.client.startWorkflow("tree_fair_parent", { tenant: "big", tasks, inputs });
    for (let i = 0; i < 3; i++) await h.client.startWorkflow("tree_fair_small", { tenant: "small", who: "small" });
    for (let i = 0; i < 3; i++) await h.client.startWorkflow("tree_fair_plain", { who: "plain" });
    await h.settle();

    const { tasks: claimed } = await h.client.tasks.poll({ taskType: TYPE, workerId: "tree-fair", count: 6, waitMs: 1000n });
    const who = claimed.map((t) => (input(t) as { who: string }).who).sort();
    assert.deepEqual(
      who,
      ["plain", "plain", "small", "small", "tree", "tree"],
      "two rounds of three keys: the tree's (its root's), the small key's and the unkeyed runs', although the tree's 30 tasks came first",
    );
  });
});
