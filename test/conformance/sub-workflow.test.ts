// SCENARIOS.md 12: SUB_WORKFLOW — the child's end reaches the parent, the
// parent's end reaches the child, and retrying either brings both back.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Harness } from "../support/harness.js";
import { answer, completeNext, mustPoll } from "../support/worker.js";
import { conformanceHooks, fixture, task, waitForRun, waitForStatus } from "./support.js";

let h: Harness;
conformanceHooks((harness) => {
  h = harness;
});

async function startParent(name = "integration_test_wf_with_sub_wf"): Promise<{ id: string; childId: string }> {
  const id = await h.client.startWorkflow(name, { param1: "p1", param2: "p2", subwf: "sub_workflow" });
  await completeNext(h, "integration_task_1", { op: "t1 done" });
  const run = await waitForRun(h, id, (r) => Boolean(r.tasks.find((t) => t.referenceTaskName === "t2")?.subWorkflowId));
  const sub = task(run, "t2");
  assert.equal(sub.taskType, "SUB_WORKFLOW");
  assert.equal(sub.status, "IN_PROGRESS");
  return { id, childId: sub.subWorkflowId! };
}

describe("scenario 12: sub-workflow", () => {
  it("runs the child named by the input and completes with it", async () => {
    const { id, childId } = await startParent();
    const child = await h.client.getWorkflow(childId);
    assert.equal(child.status, "RUNNING");
    assert.equal(child.workflowName, "sub_workflow");
    assert.equal(child.parentWorkflowId, id);
    assert.deepEqual(child.input, { param1: "p1", param2: "p2", subwf: null });
    await completeNext(h, "simple_task_in_sub_wf", { from: "child" });
    const run = await waitForStatus(h, id, "COMPLETED");
    assert.equal(task(run, "t2").status, "COMPLETED");
    assert.equal((task(run, "t2").outputData as Record<string, unknown>)["from"], "child");
  });

  it("terminating the child terminates the parent, its SUB_WORKFLOW task CANCELED", async () => {
    const { id, childId } = await startParent();
    await h.client.terminateWorkflow(childId, "stopped by hand");
    const child = await h.client.getWorkflow(childId);
    assert.equal(child.status, "TERMINATED");
    const run = await waitForStatus(h, id, "TERMINATED");
    assert.equal(task(run, "t2").status, "CANCELED");
    assert.match(run.reasonForIncompletion ?? "", /stopped by hand/);
  });

  it("a child that fails fails the parent; retrying the parent with resumeSubworkflowTasks resumes the same child", async () => {
    const { id, childId } = await startParent();
    await answer(h, await mustPoll(h, "simple_task_in_sub_wf"), "FAILED_WITH_TERMINAL_ERROR", {}, { reason: "child broke" });
    let run = await waitForStatus(h, id, "FAILED");
    assert.equal(task(run, "t2").status, "FAILED");
    assert.match(run.reasonForIncompletion ?? "", /child broke/);
    await h.client.retryWorkflow(id, { resumeSubworkflowTasks: true });
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "RUNNING");
    assert.equal(task(run, "t2").subWorkflowId, childId, "the same child resumes");
    assert.equal((await waitForStatus(h, childId, "RUNNING")).status, "RUNNING");
    await completeNext(h, "simple_task_in_sub_wf", { second: true });
    run = await waitForStatus(h, id, "COMPLETED");
    assert.equal(run.tasks.filter((t) => t.referenceTaskName === "t2").length, 1);
  });

  it("retrying the parent without resumeSubworkflowTasks starts a new child", async () => {
    const { id, childId } = await startParent();
    await answer(h, await mustPoll(h, "simple_task_in_sub_wf"), "FAILED_WITH_TERMINAL_ERROR", {}, { reason: "child broke" });
    await waitForStatus(h, id, "FAILED");
    await h.client.retryWorkflow(id);
    const run = await waitForRun(h, id, (r) => r.tasks.filter((t) => t.referenceTaskName === "t2").length === 2 && Boolean(task(r, "t2").subWorkflowId));
    assert.notEqual(task(run, "t2").subWorkflowId, childId);
    await completeNext(h, "simple_task_in_sub_wf");
    await waitForStatus(h, id, "COMPLETED");
  });

  it("the parent times out: the child is terminated; retrying the child revives the parent, which completes with the child's output", async () => {
    await h.client.registerWorkflowDef({
      ...fixture("workflow_with_sub_workflow_1_integration_test.json"),
      name: "sub_wf_parent_timeout",
      timeoutPolicy: "TIME_OUT_WF",
      timeoutSeconds: 5,
    });
    const { id, childId } = await startParent("sub_wf_parent_timeout");
    await mustPoll(h, "simple_task_in_sub_wf");
    await h.advance(5000);
    let run = await waitForStatus(h, id, "TIMED_OUT");
    assert.equal(task(run, "t2").status, "CANCELED");
    let child = await waitForStatus(h, childId, "TERMINATED");
    assert.equal(child.status, "TERMINATED");
    await h.client.retryWorkflow(childId);
    child = await h.client.getWorkflow(childId);
    assert.equal(child.status, "RUNNING");
    run = await waitForStatus(h, id, "RUNNING");
    assert.equal(task(run, "t2").status, "IN_PROGRESS");
    await completeNext(h, "simple_task_in_sub_wf", { answer: 42 });
    await waitForStatus(h, childId, "COMPLETED");
    run = await waitForStatus(h, id, "COMPLETED");
    assert.equal(task(run, "t2").status, "COMPLETED");
    assert.equal(run.output["answer"], 42);
  });

  it("an inline sub-workflow definition runs without registration", async () => {
    const id = await h.client.startWorkflow("WorkflowWithInlineSubWorkflow", { param1: "a", param2: "b" });
    await completeNext(h, "integration_task_1", { op: "x", imageType: "png" });
    const t3 = await mustPoll(h, "integration_task_3");
    assert.deepEqual(JSON.parse(t3.inputJson), { p1: "png" });
    await answer(h, t3, "COMPLETED", { op: "child op" });
    await waitForRun(h, id, (r) => r.tasks.some((t) => t.referenceTaskName === "t2"));
    assert.equal((task(await h.client.getWorkflow(id), "swt").outputData as Record<string, unknown>)["op"], "child op");
    await completeNext(h, "integration_task_2");
    await waitForStatus(h, id, "COMPLETED");
  });

  it("a child name that does not exist fails the SUB_WORKFLOW task", async () => {
    const id = await h.client.startWorkflow("integration_test_wf_with_sub_wf", { subwf: "no_such_workflow" });
    await completeNext(h, "integration_task_1");
    const run = await waitForStatus(h, id, "FAILED");
    assert.match(task(run, "t2").reasonForIncompletion ?? "", /no_such_workflow/);
  });

  it("a WAIT in the child can be signalled by the child's id, or through the parent", async () => {
    for (const via of ["child", "parent"] as const) {
      const id = await h.client.startWorkflow("signal_sub_wf_parent", {});
      const run = await waitForRun(h, id, (r) => Boolean(r.tasks[0]?.subWorkflowId));
      const childId = task(run, "sub_wf_ref").subWorkflowId!;
      await waitForRun(h, childId, (r) => r.tasks[0]?.status === "IN_PROGRESS");
      await h.client.signalTask(via === "child" ? childId : id, { taskReferenceName: "wait_in_sub_ref" }, { output: { via } });
      await waitForStatus(h, childId, "COMPLETED");
      const parent = await waitForStatus(h, id, "COMPLETED");
      assert.equal((task(parent, "sub_wf_ref").outputData as Record<string, unknown>)["via"], via);
    }
  });

  it("a child failed by a TERMINATE fails the parent, which starts its failure workflow", async () => {
    const id = await h.client.startWorkflow("test_task_failed_parent_wf", { lambdaValue: 1 });
    const run = await waitForStatus(h, id, "FAILED");
    assert.equal(task(run, "test_task_failed_sub_wf").status, "FAILED");
    assert.ok(!run.tasks.some((t) => t.referenceTaskName === "lambdaTask2"));
    const failureId = run.output["conductor.failure_workflow"] as string;
    assert.ok(failureId);
    await waitForStatus(h, failureId, "COMPLETED");
  });

  it("a TERMINATE(COMPLETED) in one fork branch completes the parent and terminates its child", async () => {
    const id = await h.client.startWorkflow("test_terminate_task_parent_wf", { lambdaValue: 1 });
    let run = await waitForRun(h, id, (r) => r.tasks.some((t) => t.referenceTaskName === "test_terminate_subworkflow" && Boolean(t.subWorkflowId)));
    const childId = task(run, "test_terminate_subworkflow").subWorkflowId!;
    assert.equal(task(run, "basicJavaA").status, "IN_PROGRESS");
    await h.client.signalTask(id, { taskReferenceName: "basicJavaA" });
    run = await waitForStatus(h, id, "COMPLETED");
    assert.deepEqual(run.output, { output: "some output" });
    assert.equal(task(run, "test_terminate_subworkflow").status, "CANCELED");
    assert.ok(!run.tasks.some((t) => t.referenceTaskName === "basicJavaB"));
    await waitForStatus(h, childId, "TERMINATED");
  });
});
