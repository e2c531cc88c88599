// SCENARIOS.md 10: FORK_JOIN_DYNAMIC, in both input forms, and its failures.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { forkOverItems } from "../support/flows.js";
import type { Harness } from "../support/harness.js";
import { answer, completeNext, input, mustPoll } from "../support/worker.js";
import { conformanceHooks, statuses, task, taskDef, withTaskDefs } from "./support.js";

let h: Harness;
conformanceHooks((harness) => {
  h = harness;
});

const forkOutput = {
  dynamicTasks: [
    { name: "integration_task_2", taskReferenceName: "xdt1" },
    { name: "integration_task_3", taskReferenceName: "xdt2" },
  ],
  dynamicTasksInput: { xdt1: { k1: "v1" }, xdt2: { k2: "v2" } },
};

describe("scenario 10: dynamic fork", () => {
  it("forks the tasks dt1 lists, with their inputs, and joins on them", async () => {
    const id = await h.client.startWorkflow("DynamicFanInOutTest", { param1: "p1", param2: "p2" });
    await completeNext(h, "integration_task_1", forkOutput);
    let run = await h.client.getWorkflow(id);
    assert.deepEqual(statuses(run), [
      ["dt1", "COMPLETED"],
      ["dynamicfanouttask", "COMPLETED"],
      ["xdt1", "SCHEDULED"],
      ["xdt2", "SCHEDULED"],
      ["dynamicfanouttask_join", "IN_PROGRESS"],
    ]);
    assert.deepEqual(task(run, "xdt1").inputData, { k1: "v1" });
    assert.deepEqual(task(run, "xdt2").inputData, { k2: "v2" });
    assert.deepEqual((task(run, "dynamicfanouttask_join").inputData as Record<string, unknown>)["joinOn"], ["xdt1", "xdt2"]);
    const x1 = await mustPoll(h, "integration_task_2");
    assert.deepEqual(input(x1), { k1: "v1" });
    await answer(h, x1, "COMPLETED", { r: 1 });
    await completeNext(h, "integration_task_3", { r: 2 });
    run = await h.client.getWorkflow(id);
    assert.deepEqual(task(run, "dynamicfanouttask_join").outputData, { xdt1: { r: 1 }, xdt2: { r: 2 } });
    await completeNext(h, "integration_task_4");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.equal(run.tasks.length, 6);
  });

  it("a forked task failing for good fails the run and cancels the rest", async () => {
    await withTaskDefs(h, [{ ...taskDef("integration_task_2"), retryCount: 0 }], async () => {
      const id = await h.client.startWorkflow("DynamicFanInOutTest", { param1: "p1", param2: "p2" });
      await completeNext(h, "integration_task_1", forkOutput);
      await answer(h, await mustPoll(h, "integration_task_2"), "FAILED", {}, { reason: "x" });
      const run = await h.client.getWorkflow(id);
      assert.equal(run.status, "FAILED");
      assert.equal(task(run, "xdt1").status, "FAILED");
      assert.equal(task(run, "xdt2").status, "CANCELED");
      assert.equal(task(run, "dynamicfanouttask_join").status, "CANCELED");
    });
  });

  it("retrying the failed run reschedules the failed forked task and the join waits again", async () => {
    await withTaskDefs(h, [{ ...taskDef("integration_task_2"), retryCount: 0 }], async () => {
      const id = await h.client.startWorkflow("DynamicFanInOutTest", { param1: "p1", param2: "p2" });
      await completeNext(h, "integration_task_1", forkOutput);
      await completeNext(h, "integration_task_3", { r: 2 });
      await answer(h, await mustPoll(h, "integration_task_2"), "FAILED", {}, { reason: "x" });
      assert.equal((await h.client.getWorkflow(id)).status, "FAILED");
      await h.client.retryWorkflow(id);
      let run = await h.client.getWorkflow(id);
      assert.equal(run.status, "RUNNING");
      assert.equal(task(run, "dynamicfanouttask_join").status, "IN_PROGRESS");
      const again = await mustPoll(h, "integration_task_2");
      assert.deepEqual(input(again), { k1: "v1" });
      await answer(h, again, "COMPLETED", { r: 1 });
      run = await h.client.getWorkflow(id);
      assert.deepEqual(task(run, "dynamicfanouttask_join").outputData, { xdt1: { r: 1 }, xdt2: { r: 2 } });
      await completeNext(h, "integration_task_4");
      assert.equal((await h.client.getWorkflow(id)).status, "COMPLETED");
    });
  });

  it("a malformed task list fails the fork task", async () => {
    const id = await h.client.startWorkflow("DynamicFanInOutTest", {});
    await completeNext(h, "integration_task_1", { dynamicTasks: [{ taskReferenceName: "no_name" }], dynamicTasksInput: {} });
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "FAILED");
    assert.equal(task(run, "dynamicfanouttask").status, "FAILED_WITH_TERMINAL_ERROR");
  });

  it("a reference name used twice fails the fork task", async () => {
    const id = await h.client.startWorkflow("DynamicFanInOutTest", {});
    await completeNext(h, "integration_task_1", {
      dynamicTasks: [
        { name: "integration_task_2", taskReferenceName: "same" },
        { name: "integration_task_3", taskReferenceName: "same" },
      ],
    });
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "FAILED");
    assert.match(task(run, "dynamicfanouttask").reasonForIncompletion ?? "", /same/);
  });

  it("an empty task list forks nothing and the join completes at once", async () => {
    const id = await h.client.startWorkflow("DynamicFanInOutTest", {});
    await completeNext(h, "integration_task_1", { dynamicTasks: [], dynamicTasksInput: {} });
    let run = await h.client.getWorkflow(id);
    assert.equal(task(run, "dynamicfanouttask_join").status, "COMPLETED");
    await completeNext(h, "integration_task_4");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
  });

  it("forkTaskName + forkTaskInputs form: one task per input, named <name>_<index>", async () => {
    await h.client.registerWorkflowDef(forkOverItems("dynamic_fork_by_name", "integration_task_5", [], { joined: "${join.output}" }));
    const id = await h.client.startWorkflow("dynamic_fork_by_name", { items: [{ a: 1 }, { a: 2 }, { a: 3 }] });
    let run = await h.client.getWorkflow(id);
    assert.deepEqual(
      run.tasks.map((t) => t.referenceTaskName),
      ["fork", "integration_task_5_0", "integration_task_5_1", "integration_task_5_2", "join"],
    );
    for (let i = 0; i < 3; i++) {
      const t = await mustPoll(h, "integration_task_5");
      await answer(h, t, "COMPLETED", { double: (input(t)["a"] as number) * 2 });
    }
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.output["joined"], { integration_task_5_0: { double: 2 }, integration_task_5_1: { double: 4 }, integration_task_5_2: { double: 6 } });
  });

  it("do_while_timeline_ui_demo: an INLINE reading a loop's output it was not given fails, as in Conductor", async () => {
    const run = await h.client.executeWorkflow("do_while_timeline_ui_demo", {}, { waitMs: 20_000 });
    assert.equal(run.status, "FAILED");
    assert.equal(task(run, "default_case_ref__1").status, "FAILED_WITH_TERMINAL_ERROR");
    assert.match(run.reasonForIncompletion ?? "", /TypeError/);
  });
});
