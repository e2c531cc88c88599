// SCENARIOS.md 13, 14, 15: TERMINATE and failure workflows, optional and
// permissive tasks, WAIT with SET_VARIABLE.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Harness } from "../support/harness.js";
import { answer, completeNext, mustPoll, poll } from "../support/worker.js";
import { conformanceHooks, fixture, statuses, task, waitForStatus } from "./support.js";

let h: Harness;
conformanceHooks((harness) => {
  h = harness;
});

describe("scenario 13: TERMINATE and failureWorkflow", () => {
  it("TERMINATE(FAILED) ends the run at once and starts the failure workflow", async () => {
    const id = await h.client.startWorkflow("test_terminate_task_failed_wf", { a: 1 }, { correlationId: "corr-13" });
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "FAILED");
    assert.equal(run.reasonForIncompletion, "Early exit in terminate");
    assert.deepEqual(statuses(run), [
      ["lambda0", "COMPLETED"],
      ["terminate0", "COMPLETED"],
    ]);
    const failureId = run.output["conductor.failure_workflow"] as string;
    assert.ok(failureId, JSON.stringify(run.output));
    const failure = await waitForStatus(h, failureId, "COMPLETED");
    assert.equal(failure.workflowName, "failure_workflow");
    assert.equal(failure.correlationId, "corr-13");
    assert.equal(failure.input["workflowId"], id);
    assert.equal(failure.input["failureTaskId"], task(run, "terminate0").taskId);
    assert.equal((failure.input["failedWorkflow"] as Record<string, unknown>)["workflowId"], id);
  });

  it("TERMINATE(COMPLETED): the run's output is exactly the TERMINATE's workflowOutput", async () => {
    const id = await h.client.startWorkflow("test_terminate_task_wf", { a: 1 });
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.output, { result: { testvalue: true } });
    assert.ok(!run.tasks.some((t) => t.referenceTaskName === "t2"));
  });

  it("TERMINATE(TERMINATED) ends the run TERMINATED", async () => {
    const run = await h.client.executeWorkflow("test_terminate_task_terminated", {});
    assert.equal(run.status, "TERMINATED");
    assert.equal(run.reasonForIncompletion, "Early exit with TERMINATED status");
    assert.ok(!run.tasks.some((t) => t.referenceTaskName === "lambda1"));
  });

  it("a TERMINATE in a case of a SWITCH or DECISION", async () => {
    for (const file of ["switch_and_terminate_integration_test.json", "decision_and_terminate_integration_test.json"]) {
      await h.client.registerWorkflowDef(fixture(file));
      const id = await h.client.startWorkflow("ConditionalTerminateWorkflow", { param1: "a", param2: "b", case: "two" });
      await completeNext(h, "integration_task_1", { op: "t1 op" });
      const run = await h.client.getWorkflow(id);
      assert.equal(run.status, "FAILED", file);
      assert.deepEqual(run.output, { output: "t1 op" });
      assert.ok(!run.tasks.some((t) => t.referenceTaskName === "t3"));
    }
  });

  it("failureWorkflow given as $workflow.input.<name> is taken from the input, and absent when the input has none", async () => {
    const id = await h.client.startWorkflow("integration_test_wf", { param1: "p1", failureWfName: "failure_workflow" });
    await answer(h, await mustPoll(h, "integration_task_1"), "FAILED_WITH_TERMINAL_ERROR", {}, { reason: "bad" });
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "FAILED");
    await waitForStatus(h, run.output["conductor.failure_workflow"] as string, "COMPLETED");

    const plain = await h.client.startWorkflow("integration_test_wf", { param1: "p1" });
    await answer(h, await mustPoll(h, "integration_task_1"), "FAILED_WITH_TERMINAL_ERROR", {}, { reason: "bad" });
    const plainRun = await h.client.getWorkflow(plain);
    assert.equal(plainRun.status, "FAILED");
    assert.equal(plainRun.output["conductor.failure_workflow"], undefined);
  });
});

describe("scenario 14: optional and permissive", () => {
  it("an optional task that fails is retried, then times out and completes with errors; the flow goes on", async () => {
    const id = await h.client.startWorkflow("optional_task_wf", { param1: "p1", param2: "p2" });
    await answer(h, await mustPoll(h, "task_optional"), "FAILED", {}, { reason: "first" });
    let run = await h.client.getWorkflow(id);
    assert.deepEqual(statuses(run), [
      ["t1", "FAILED"],
      ["t1", "SCHEDULED"],
    ]);
    await h.advance(60_000);
    await mustPoll(h, "task_optional");
    await h.advance(5000);
    run = await h.client.getWorkflow(id);
    assert.deepEqual(statuses(run), [
      ["t1", "FAILED"],
      ["t1", "COMPLETED_WITH_ERRORS"],
      ["t2", "SCHEDULED"],
    ]);
    await completeNext(h, "integration_task_2");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
  });

  it("a permissive task that fails lets the next run, then the run ends FAILED with its reason", async () => {
    const id = await h.client.startWorkflow("permissive_task_wf", { param1: "p1", param2: "p2" });
    await answer(h, await mustPoll(h, "task_permissive"), "FAILED", {}, { reason: "once" });
    const second = await mustPoll(h, "task_permissive");
    await answer(h, second, "FAILED", {}, { reason: "twice" });
    let run = await h.client.getWorkflow(id);
    assert.equal(run.status, "RUNNING");
    assert.equal(task(run, "t2").status, "SCHEDULED");
    await completeNext(h, "integration_task_2");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "FAILED");
    assert.equal(run.reasonForIncompletion, `Task ${second.taskId} failed with status: FAILED and reason: 'twice'`);
    assert.deepEqual(run.failedReferenceTaskNames, ["t1"]);
  });

  it("optional and permissive together: optional wins, the run completes", async () => {
    const id = await h.client.startWorkflow("permissive_optional_task_wf", {});
    await answer(h, await mustPoll(h, "task_optional"), "FAILED_WITH_TERMINAL_ERROR", {}, { reason: "x" });
    await completeNext(h, "integration_task_2");
    const run = await h.client.getWorkflow(id);
    assert.equal(task(run, "t1").status, "COMPLETED_WITH_ERRORS");
    assert.equal(run.status, "COMPLETED");
  });
});

describe("scenario 15: WAIT, SET_VARIABLE, variables", () => {
  it("sets a variable, waits for a signal, and outputs the variables", async () => {
    const id = await h.client.startWorkflow("set_variable_workflow_integration_test", { var: "var_test_value" });
    await completeNext(h, "simple");
    let run = await h.client.getWorkflow(id);
    assert.deepEqual(statuses(run), [
      ["simple", "COMPLETED"],
      ["set_variable_1", "COMPLETED"],
      ["wait0", "IN_PROGRESS"],
    ]);
    assert.deepEqual(run.variables, { var: "var_test_value" });
    await h.client.signalTask(id, { taskReferenceName: "wait0" });
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.output, { variables: { var: "var_test_value" } });
  });

  it("SET_VARIABLE alone", async () => {
    const run = await h.client.executeWorkflow("test_set_variable_wf", { var: 7 });
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.output, { variables: { var: 7 } });
  });

  it("a WAIT whose task def has timeoutSeconds 2 and policy RETRY times out and is retried after its delay", async () => {
    const id = await h.client.startWorkflow("test_wait_timeout", {});
    let run = await h.client.getWorkflow(id);
    assert.equal(task(run, "wait0").status, "IN_PROGRESS");
    await h.advance(2000);
    run = await h.client.getWorkflow(id);
    assert.deepEqual(statuses(run), [
      ["wait0", "TIMED_OUT"],
      ["wait0", "SCHEDULED"],
    ]);
    await h.advance(10_000);
    run = await h.client.getWorkflow(id);
    assert.equal(task(run, "wait0").status, "IN_PROGRESS");
    await h.client.signalTask(id, { taskReferenceName: "wait0" });
    assert.equal(task(await h.client.getWorkflow(id), "t1").status, "SCHEDULED");
    void poll;
  });

  it("a plain WAIT blocks until signalled, then the next task runs", async () => {
    const id = await h.client.startWorkflow("test_wait_workflow", {});
    assert.equal(await poll(h, "integration_task_1", 50), undefined);
    await h.client.signalTask(id, { taskReferenceName: "wait0" }, { output: { ok: true } });
    await completeNext(h, "integration_task_1");
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(task(run, "wait0").outputData, { ok: true });
  });
});
