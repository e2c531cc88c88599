// SCENARIOS.md 8: SWITCH and DECISION pick a case, run its tasks in order,
// then the flow goes on after the switch.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Harness } from "../support/harness.js";
import { completeNext } from "../support/worker.js";
import { conformanceHooks, fixture, statuses, task, typesAndStatuses } from "./support.js";

let h: Harness;
conformanceHooks((harness) => {
  h = harness;
});

/** Some fixtures share a name: register the one a test means right before it runs. */
const use = async (file: string) => void (await h.client.registerWorkflowDef(fixture(file)));

describe("scenario 8: SWITCH", () => {
  it("runs case c of a value-param SWITCH, then the task after it", async () => {
    const id = await h.client.startWorkflow("SwitchWorkflow", { param1: "p1", param2: "p2", case: "c" });
    let run = await h.client.getWorkflow(id);
    assert.deepEqual(typesAndStatuses(run), [
      ["SWITCH", "COMPLETED"],
      ["integration_task_1", "SCHEDULED"],
    ]);
    assert.deepEqual(task(run, "switchTask").outputData, { evaluationResult: ["c"], selectedCase: "c" });
    assert.equal(task(run, "t1").taskDefName, "integration_task_1");
    await completeNext(h, "integration_task_1");
    await completeNext(h, "integration_task_2");
    await completeNext(h, "integration_task_20");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(statuses(run), [
      ["switchTask", "COMPLETED"],
      ["t1", "COMPLETED"],
      ["t2", "COMPLETED"],
      ["t20", "COMPLETED"],
    ]);
  });

  it("takes the default case for an unknown value", async () => {
    const id = await h.client.startWorkflow("SwitchWorkflow", { case: "zz" });
    await completeNext(h, "integration_task_5");
    await completeNext(h, "integration_task_20");
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(statuses(run), [
      ["switchTask", "COMPLETED"],
      ["t5", "COMPLETED"],
      ["t20", "COMPLETED"],
    ]);
  });

  it("conditional switch: 'xxx' takes the default, a missing case input evaluates to 'null'", async () => {
    await use("conditional_switch_task_workflow_integration_test.json");
    const id = await h.client.startWorkflow("ConditionalTaskWF", { param1: "xxx", param2: "two" });
    let run = await h.client.getWorkflow(id);
    assert.equal(run.workflowName, "ConditionalTaskWF");
    assert.deepEqual(task(run, "conditional").outputData, { evaluationResult: ["xxx"], selectedCase: "xxx" });
    await completeNext(h, "integration_task_10");
    run = await h.client.getWorkflow(id);
    // finalCase has no input: the SWITCH sees null, takes its (empty) default and the flow ends.
    assert.deepEqual((task(run, "finalCase").outputData as Record<string, unknown>)["evaluationResult"], ["null"]);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(statuses(run), [
      ["conditional", "COMPLETED"],
      ["t10", "COMPLETED"],
      ["finalCase", "COMPLETED"],
    ]);
  });

  it("conditional switch: 'nested' runs two SWITCHes, for param2 one and two", async () => {
    await use("conditional_switch_task_workflow_integration_test.json");
    for (const [param2, ref, type] of [
      ["one", "t1", "integration_task_1"],
      ["two", "t2", "integration_task_2"],
    ] as const) {
      const id = await h.client.startWorkflow("ConditionalTaskWF", { param1: "nested", param2, finalCase: "notify" });
      let run = await h.client.getWorkflow(id);
      assert.deepEqual(statuses(run), [
        ["conditional", "COMPLETED"],
        ["nestedCondition", "COMPLETED"],
        [ref, "SCHEDULED"],
      ]);
      await completeNext(h, type);
      run = await h.client.getWorkflow(id);
      assert.deepEqual(statuses(run).slice(3), [
        ["finalCase", "COMPLETED"],
        ["integration_task_4", "SCHEDULED"],
      ]);
      await completeNext(h, "integration_task_4");
      run = await h.client.getWorkflow(id);
      assert.equal(run.status, "COMPLETED");
      assert.equal(run.tasks.length, 5);
    }
  });

  it("DECISION (caseValueParam) behaves the same, with caseOutput", async () => {
    await use("conditional_task_workflow_integration_test.json");
    const nested = await h.client.startWorkflow("ConditionalTaskWF", { param1: "nested", param2: "one" });
    assert.deepEqual(statuses(await h.client.getWorkflow(nested)), [
      ["conditional", "COMPLETED"],
      ["nestedCondition", "COMPLETED"],
      ["t1", "SCHEDULED"],
    ]);
    await h.client.terminateWorkflow(nested);
    const id = await h.client.startWorkflow("DecisionWorkflow", { param1: "p1", param2: "p2", case: "c" });
    let run = await h.client.getWorkflow(id);
    assert.deepEqual(typesAndStatuses(run), [
      ["DECISION", "COMPLETED"],
      ["integration_task_1", "SCHEDULED"],
    ]);
    assert.deepEqual(task(run, "decisionTask").outputData, { caseOutput: ["c"] });
    await completeNext(h, "integration_task_1");
    await completeNext(h, "integration_task_2");
    await completeNext(h, "integration_task_20");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.equal(run.tasks.length, 4);
  });

  it("no matching case and no default: the flow goes straight on", async () => {
    const id = await h.client.startWorkflow("SwitchWithNoDefaultCaseWF", { case: "nothing" });
    let run = await h.client.getWorkflow(id);
    assert.deepEqual(statuses(run), [
      ["switchTask", "COMPLETED"],
      ["t2", "SCHEDULED"],
    ]);
    await completeNext(h, "integration_task_2");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
  });

  it("a javascript SWITCH inside a DO_WHILE picks its case per iteration", async () => {
    const id = await h.client.startWorkflow("DO_While_with_Decision_task", { list: [1, -2] });
    let run = await h.client.getWorkflow(id);
    assert.equal(run.status, "RUNNING", run.reasonForIncompletion);
    // Iteration 1: number 1 > 0 → case "true": a WAIT, then INLINE.
    assert.equal(task(run, "WaitTask__1").status, "IN_PROGRESS");
    await h.client.signalTask(id, { taskReferenceName: "WaitTask__1" });
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    // `${GetNumberAtIndex.output.result.number}` of a plain number is null, and null + 10 is 10 in JavaScript.
    assert.deepEqual((task(run, "ComputeNumber__1").outputData as Record<string, unknown>)["result"], 10);
    assert.deepEqual((task(run, "SwitchTask__2").outputData as Record<string, unknown>)["evaluationResult"], ["false"]);
    assert.equal(run.tasks.filter((t) => t.referenceTaskName.startsWith("WaitTask")).length, 1);
  });
});
