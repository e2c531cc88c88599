// A static fork starts all its branches in one decision (one transaction, one
// turn of the serving thread), and a dynamic one 1,000 a decision, so a fork
// starts at most MAX_FORK_BRANCHES of them (issue 14). Before, a dynamic fork took its width from run input: an
// operator's start with 50,000 items in forkTaskInputs held the serving
// thread 17 s (the reference check searched the list once per task), and a
// published FORK_JOIN of 60,000 branches fits a definition's 4 MiB.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MAX_FORK_BRANCHES } from "@baton/sdk";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { flowOf, forkOverItems } from "../support/flows.js";

let h: Harness;
before(async () => {
  h = await startHarness();
  await h.client.registerWorkflowDef(forkOverItems("fork_by_inputs", "w"));
  await h.client.registerWorkflowDef(
    flowOf("fork_by_tasks", [
      {
        name: "fork",
        taskReferenceName: "fork",
        type: "FORK_JOIN_DYNAMIC",
        dynamicForkTasksParam: "tasks",
        dynamicForkTasksInputParamName: "inputs",
        inputParameters: { tasks: "${workflow.input.tasks}", inputs: {} },
      },
      { name: "join", taskReferenceName: "join", type: "JOIN" },
    ]),
  );
});
after(() => h.close());

async function ended(id: string) {
  await h.settle();
  return eventually(
    () => h.client.getWorkflow(id, { includeTasks: true }),
    (run) => run.status !== "RUNNING",
  );
}

describe("a fork's width", () => {
  it("a dynamic fork of forkTaskInputs one over the limit fails, naming it, and starts nothing", async () => {
    const id = await h.client.startWorkflow("fork_by_inputs", { items: Array.from({ length: MAX_FORK_BRANCHES + 1 }, () => ({})) });
    const run = await ended(id);
    assert.equal(run.status, "FAILED");
    assert.deepEqual(
      run.tasks.map((t) => [t.referenceTaskName, t.status]),
      [["fork", "FAILED_WITH_TERMINAL_ERROR"]],
    );
    assert.match(
      run.tasks[0]!.reasonForIncompletion ?? "",
      new RegExp(`lists ${MAX_FORK_BRANCHES + 1} tasks, over the ${MAX_FORK_BRANCHES} one fork may start; fork sub-workflows`),
    );
  });

  it("a dynamic fork of listed tasks one over the limit fails the same way", async () => {
    const tasks = Array.from({ length: MAX_FORK_BRANCHES + 1 }, (_, i) => ({ name: "w", taskReferenceName: `w${i}`, type: "SIMPLE" }));
    const run = await ended(await h.client.startWorkflow("fork_by_tasks", { tasks }));
    assert.equal(run.status, "FAILED");
    assert.equal(run.tasks.length, 1);
    assert.match(run.tasks[0]!.reasonForIncompletion ?? "", /over the 10000 one fork may start/);
  });

  it("a dynamic fork of the limit itself starts every branch", async () => {
    const id = await h.client.startWorkflow("fork_by_inputs", { items: Array.from({ length: MAX_FORK_BRANCHES }, (_, i) => ({ i })) });
    await h.settle();
    const run = await h.client.getWorkflow(id, { includeTasks: true });
    assert.equal(run.status, "RUNNING");
    assert.equal(run.tasks.filter((t) => t.taskDefName === "w" && t.status === "SCHEDULED").length, MAX_FORK_BRANCHES);
    await h.client.terminateWorkflow(id, "done looking");
  });

  it("a FORK_JOIN of more branches than the limit is refused at publish, naming its field", async () => {
    const branches = Array.from({ length: MAX_FORK_BRANCHES + 1 }, (_, i) => [{ name: "w", taskReferenceName: `w${i}`, type: "SIMPLE" }]);
    const def = flowOf("fork_static_wide", [
      { name: "fan", taskReferenceName: "fan", type: "FORK_JOIN", forkTasks: branches },
      { name: "join", taskReferenceName: "join", type: "JOIN" },
    ]);
    await assert.rejects(h.client.registerWorkflowDef(def), (e: Error) => {
      assert.match(e.message, /\/tasks\/0\/forkTasks/);
      assert.match(e.message, /FORK_JOIN has 10001 branches, over the 10000 a fork may start/);
      return true;
    });
    await assert.rejects(h.client.getWorkflowDef("fork_static_wide"), /not found|NOT_FOUND/i);
  });
});
