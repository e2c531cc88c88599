// SCENARIOS.md 9 (static fork/join) and the fork fixtures around it: nested
// forks, optional and permissive branches, forks of sub-workflows.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Harness } from "../support/harness.js";
import { answer, completeNext, mustPoll } from "../support/worker.js";
import { conformanceHooks, statuses, task, taskDef, typesAndStatuses, waitForStatus, withTaskDefs } from "./support.js";
import { flowOf } from "../support/flows.js";

let h: Harness;
conformanceHooks((harness) => {
  h = harness;
});

describe("scenario 9: static fork/join", () => {
  it("forks two branches and joins them, the join's output keyed by reference", async () => {
    const id = await h.client.startWorkflow("FanInOutTest", { param1: "p1", param2: "p2" });
    let run = await h.client.getWorkflow(id);
    assert.deepEqual(typesAndStatuses(run), [
      // Conductor reports a fork's record as FORK (its definition says FORK_JOIN).
      ["FORK", "COMPLETED"],
      ["integration_task_1", "SCHEDULED"],
      ["integration_task_2", "SCHEDULED"],
      ["JOIN", "IN_PROGRESS"],
    ]);
    await completeNext(h, "integration_task_1", { t1: "done" });
    run = await h.client.getWorkflow(id);
    assert.equal(task(run, "t3").status, "SCHEDULED");
    await completeNext(h, "integration_task_3", { t3: "done" });
    assert.equal(task(await h.client.getWorkflow(id), "fanouttask_join").status, "IN_PROGRESS");
    await completeNext(h, "integration_task_2", { t2: "done" });
    run = await h.client.getWorkflow(id);
    const join = task(run, "fanouttask_join");
    assert.equal(join.status, "COMPLETED");
    assert.deepEqual(join.outputData, { t3: { t3: "done" }, t2: { t2: "done" } });
    assert.equal(task(run, "t4").status, "SCHEDULED");
    await completeNext(h, "integration_task_4");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.equal(run.tasks.length, 6);
  });

  it("a branch failing for good fails the run and cancels the join and the other branch", async () => {
    await withTaskDefs(h, [{ ...taskDef("integration_task_2"), retryCount: 0 }], async () => {
      const id = await h.client.startWorkflow("FanInOutTest", { param1: "p1", param2: "p2" });
      const t2 = await mustPoll(h, "integration_task_2");
      await answer(h, t2, "FAILED", {}, { reason: "broken" });
      const run = await h.client.getWorkflow(id);
      assert.equal(run.status, "FAILED");
      assert.equal(task(run, "t2").status, "FAILED");
      assert.equal(task(run, "t1").status, "CANCELED");
      assert.equal(task(run, "fanouttask_join").status, "CANCELED");
      assert.equal(run.reasonForIncompletion, `Task ${t2.taskId} failed with status: FAILED and reason: 'broken'`);
      assert.deepEqual(run.failedReferenceTaskNames, ["t2"]);
    });
  });

  it("fork_join_with_no_task_retry: a retry-less branch task fails the run", async () => {
    const id = await h.client.startWorkflow("FanInOutTest_2", {});
    const run0 = await h.client.getWorkflow(id);
    assert.deepEqual(
      typesAndStatuses(run0).map(([, s]) => s),
      ["COMPLETED", "SCHEDULED", "SCHEDULED", "IN_PROGRESS"],
    );
    await answer(h, await mustPoll(h, "integration_task_0_RT_1"), "FAILED", {}, { reason: "no retry" });
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "FAILED");
    assert.equal(run.tasks.filter((t) => t.referenceTaskName === "t1").length, 1);
  });
});

describe("nested forks", () => {
  it("an inner fork's join is a branch of the outer join (case a)", async () => {
    const id = await h.client.startWorkflow("FanInOutNestedTest", { param1: "p1", param2: "p2", case: "a" });
    let run = await h.client.getWorkflow(id);
    assert.deepEqual(statuses(run), [
      ["fork1", "COMPLETED"],
      ["t11", "SCHEDULED"],
      ["fork2", "COMPLETED"],
      ["t12", "SCHEDULED"],
      ["t13", "SCHEDULED"],
      ["join2", "IN_PROGRESS"],
      ["join1", "IN_PROGRESS"],
    ]);
    for (const type of [
      "integration_task_11",
      "integration_task_12",
      "integration_task_13",
      "integration_task_14",
      "integration_task_16",
      "integration_task_19",
    ]) {
      await completeNext(h, type, { by: type });
    }
    run = await h.client.getWorkflow(id);
    assert.equal(task(run, "d1").status, "COMPLETED");
    assert.equal(task(run, "join2").status, "IN_PROGRESS");
    await completeNext(h, "integration_task_20", { by: "t20" });
    run = await h.client.getWorkflow(id);
    assert.equal(task(run, "join2").status, "COMPLETED");
    assert.deepEqual(task(run, "join2").outputData, { t14: { by: "integration_task_14" }, t20: { by: "t20" } });
    assert.equal(task(run, "join1").status, "COMPLETED");
    assert.deepEqual(Object.keys(task(run, "join1").outputData as object).sort(), ["join2", "t11"]);
    await completeNext(h, "integration_task_15");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.equal(run.tasks.length, 13);
  });

  it("nested forks with a sub-workflow branch wait for the child", async () => {
    await h.client.registerWorkflowDef(
      flowOf("integration_test_wf", [{ name: "integration_task_1", taskReferenceName: "t1", type: "SIMPLE" }], { child: "${t1.output.v}" }),
    );
    const id = await h.client.startWorkflow("FanInOutNestedSubWorkflowTest", { param1: "p1", param2: "p2", case: "a" });
    let run = await h.client.getWorkflow(id);
    const sw1 = task(run, "sw1");
    assert.equal(sw1.status, "IN_PROGRESS");
    assert.ok(sw1.subWorkflowId);
    for (const type of [
      "integration_task_11",
      "integration_task_12",
      "integration_task_13",
      "integration_task_14",
      "integration_task_16",
      "integration_task_19",
      "integration_task_20",
    ]) {
      await completeNext(h, type);
    }
    run = await h.client.getWorkflow(id);
    assert.equal(task(run, "join2").status, "COMPLETED");
    assert.equal(task(run, "join1").status, "IN_PROGRESS");
    await completeNext(h, "integration_task_1", { v: 42 });
    run = await waitForStatus(h, sw1.subWorkflowId!, "COMPLETED").then(() => h.client.getWorkflow(id));
    assert.equal(task(run, "sw1").status, "COMPLETED");
    assert.equal((task(run, "sw1").outputData as Record<string, unknown>)["child"], 42);
    assert.equal(task(run, "join1").status, "COMPLETED");
    await completeNext(h, "integration_task_15");
    assert.equal((await h.client.getWorkflow(id)).status, "COMPLETED");
  });

  it("a FORK_JOIN with joinMode SYNC inside another: the outer join waits for the inner join", async () => {
    const id = await h.client.startWorkflow("ForkJoinSyncNestedTest", {});
    for (const type of ["integration_task_1", "integration_task_2"]) await completeNext(h, type, { t: type });
    let run = await h.client.getWorkflow(id);
    assert.equal(task(run, "inner_join").status, "COMPLETED");
    assert.equal(task(run, "outer_join").status, "IN_PROGRESS");
    await completeNext(h, "integration_task_3");
    run = await h.client.getWorkflow(id);
    assert.equal(task(run, "outer_join").status, "COMPLETED");
    await completeNext(h, "integration_task_4");
    assert.equal((await h.client.getWorkflow(id)).status, "COMPLETED");
  });

  it("three SYNC branches: the join's output feeds the next task and the run's output", async () => {
    const id = await h.client.startWorkflow("ForkJoinSyncModeTest", { param1: "x" });
    for (const [i, type] of ["integration_task_1", "integration_task_2", "integration_task_3"].entries()) await completeNext(h, type, { n: i });
    const post = await mustPoll(h, "integration_task_4");
    assert.deepEqual(JSON.parse(post.inputJson), { branchAResult: { n: 0 }, branchBResult: { n: 1 }, branchCResult: { n: 2 } });
    await answer(h, post, "COMPLETED");
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.output, { branchAOutput: { n: 0 }, branchBOutput: { n: 1 }, branchCOutput: { n: 2 } });
  });
});

describe("optional and permissive branches", () => {
  it("an optional branch that fails completes with errors, and so does the join (Conductor)", async () => {
    const id = await h.client.startWorkflow("ForkJoinSyncOptionalFailTest", {});
    await completeNext(h, "integration_task_1");
    await answer(h, await mustPoll(h, "integration_task_2"), "FAILED", {}, { reason: "first" });
    await h.advance(60_000);
    await answer(h, await mustPoll(h, "integration_task_2"), "FAILED", {}, { reason: "second" });
    let run = await h.client.getWorkflow(id);
    assert.equal(task(run, "branch_optional").status, "COMPLETED_WITH_ERRORS");
    assert.equal(task(run, "joinTask").status, "COMPLETED_WITH_ERRORS");
    await completeNext(h, "integration_task_3");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
  });

  it("a permissive branch that fails lets its branch go on, then fails the join and the run", async () => {
    const id = await h.client.startWorkflow("FanInOutPermissiveTest", {});
    await answer(h, await mustPoll(h, "integration_task_1"), "FAILED", {}, { reason: "p1" });
    await h.advance(60_000);
    const t1 = await mustPoll(h, "integration_task_1");
    await answer(h, t1, "FAILED", {}, { reason: "p2" });
    let run = await h.client.getWorkflow(id);
    assert.equal(run.status, "RUNNING");
    assert.equal(task(run, "fanouttask_join").status, "IN_PROGRESS");
    await completeNext(h, "integration_task_2");
    run = await h.client.getWorkflow(id);
    assert.equal(task(run, "fanouttask_join").status, "FAILED");
    assert.equal(run.status, "FAILED");
    assert.ok(!run.tasks.some((t) => t.referenceTaskName === "t3"));
  });

  it("permissive tasks not joined on: the join completes, later tasks run, the run ends FAILED", async () => {
    const id = await h.client.startWorkflow("FanInOutPermissiveTest_2", {});
    const t1 = await mustPoll(h, "integration_p_task_0_RT_1");
    await answer(h, t1, "FAILED", {}, { reason: "permissive failure" });
    await completeNext(h, "integration_p_task_0_RT_3");
    await completeNext(h, "integration_p_task_0_RT_2");
    let run = await h.client.getWorkflow(id);
    assert.equal(task(run, "fanouttask_join").status, "COMPLETED");
    await completeNext(h, "integration_p_task_0_RT_4");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "FAILED");
    assert.equal(run.reasonForIncompletion, `Task ${t1.taskId} failed with status: FAILED and reason: 'permissive failure'`);
    assert.deepEqual(run.failedReferenceTaskNames, ["t1"]);
  });
});

describe("forks of sub-workflows", () => {
  it("optional sub-workflow branches that fail complete with errors; the run completes", async () => {
    const id = await h.client.startWorkflow("integration_test_fork_join_optional_sw", {});
    for (let i = 0; i < 2; i++) await answer(h, await mustPoll(h, "simple_task_in_sub_wf"), "FAILED_WITH_TERMINAL_ERROR", {}, { reason: `child ${i}` });
    const run = await waitForStatus(h, id, "COMPLETED");
    assert.equal(task(run, "st1").status, "COMPLETED_WITH_ERRORS");
    assert.equal(task(run, "st2").status, "COMPLETED_WITH_ERRORS");
    assert.equal(task(run, "fanouttask_join").status, "COMPLETED_WITH_ERRORS");
  });

  it("permissive sub-workflow branches that fail let the other finish, then fail the run", async () => {
    const id = await h.client.startWorkflow("integration_test_fork_join_permissive_sw", {});
    await answer(h, await mustPoll(h, "simple_task_in_sub_wf"), "FAILED_WITH_TERMINAL_ERROR", {}, { reason: "child failed" });
    let run = await h.client.getWorkflow(id);
    assert.equal(run.status, "RUNNING");
    await completeNext(h, "simple_task_in_sub_wf");
    run = await waitForStatus(h, id, "FAILED");
    assert.equal(task(run, "st1").status, "FAILED");
    assert.equal(task(run, "st2").status, "COMPLETED");
  });

  it("a sub-workflow branch: the join waits for the child, the child's output lands in the join", async () => {
    const id = await h.client.startWorkflow("integration_test_fork_join_sw", { param1: "a", param2: "b" });
    await completeNext(h, "integration_task_2", { t2: 1 });
    await completeNext(h, "simple_task_in_sub_wf", { child: 2 });
    const run = await waitForStatus(h, id, "COMPLETED");
    const join = task(run, "fanouttask_join").outputData as Record<string, Record<string, unknown>>;
    assert.equal(join["t2"]!["t2"], 1);
    assert.equal(join["st1"]!["child"], 2);
  });

  it("DO_WHILE as a fork branch: the join waits for the whole loop", async () => {
    const id = await h.client.startWorkflow("Do_While_SubTask", { loop: 2 });
    await completeNext(h, "integration_task_2");
    for (let i = 0; i < 2; i++) {
      await completeNext(h, "integration_task_0");
      await completeNext(h, "integration_task_1");
    }
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.deepEqual(
      run.tasks.filter((t) => t.referenceTaskName.startsWith("integration_task_0")).map((t) => t.referenceTaskName),
      ["integration_task_0__1", "integration_task_0__2"],
    );
    assert.equal(task(run, "join").status, "COMPLETED");
  });
});
