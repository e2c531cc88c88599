// The extras after SCENARIOS.md's numbered list: limits, input templates,
// EXCLUSIVE_JOIN, JSON_JQ_TRANSFORM, START_WORKFLOW, EVENT and async complete,
// rerun, restart with the latest definition, restartable false.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Harness } from "../support/harness.js";
import { answer, completeNext, input, mustPoll, poll } from "../support/worker.js";
import { conformanceHooks, fixture, statuses, task, waitForStatus } from "./support.js";
import { flowOf } from "../support/flows.js";

let h: Harness;
conformanceHooks((harness) => {
  h = harness;
});

describe("claim-side limits", () => {
  it("concurrentExecLimit 1: a second run's task is not handed out until the first completes", async () => {
    const a = await h.client.startWorkflow("test_concurrency_limits_workflow", {});
    const b = await h.client.startWorkflow("test_concurrency_limits_workflow", {});
    const first = await mustPoll(h, "test_task_with_concurrency_limit");
    assert.equal(await poll(h, "test_task_with_concurrency_limit", 0), undefined);
    await answer(h, first, "COMPLETED");
    await completeNext(h, "test_task_with_concurrency_limit");
    assert.equal((await h.client.getWorkflow(a)).status, "COMPLETED");
    assert.equal((await h.client.getWorkflow(b)).status, "COMPLETED");
  });

  it("rateLimitPerFrequency 1 per 10 s: the second task waits for the next window", async () => {
    await h.client.startWorkflow("test_rate_limit_simple_task_workflow", {});
    await h.client.startWorkflow("test_rate_limit_simple_task_workflow", {});
    await completeNext(h, "test_simple_task_with_rateLimits");
    assert.equal(await poll(h, "test_simple_task_with_rateLimits", 100), undefined);
    await h.advance(10_000);
    await completeNext(h, "test_simple_task_with_rateLimits");
  });
});

describe("input templates", () => {
  it("the workflow's inputTemplate fills inputs the start did not give", async () => {
    const id = await h.client.startWorkflow("integration_test_template_wf", { param2: ["mine"] });
    const t1 = await mustPoll(h, "integration_task_1");
    assert.deepEqual(input(t1)["p1"], { nested_object: { nested_key: "nested_value" } });
    assert.deepEqual(input(t1)["p2"], ["mine"]);
    await answer(h, t1, "COMPLETED", { op: "done" });
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.output, { output: "done", param1: { nested_object: { nested_key: "nested_value" } }, param2: ["mine"], param3: "string" });
  });

  it("a task definition's inputTemplate fills task inputs the workflow did not set", async () => {
    await h.client.registerTaskDefs([
      { name: "integration_task_3", retryCount: 1, timeoutSeconds: 120, responseTimeoutSeconds: 120, inputTemplate: { tp1: "from template", extra: 7 } },
    ]);
    try {
      await h.client.startWorkflow("integration_test_wf3", { param1: "given" });
      await completeNext(h, "integration_task_1", { op: "o" });
      await completeNext(h, "integration_task_2");
      const t3 = await mustPoll(h, "integration_task_3");
      assert.deepEqual(input(t3), { tp1: "given", tp2: "o", extra: 7 });
      await answer(h, t3, "COMPLETED");
    } finally {
      await h.client.registerTaskDefs([{ name: "integration_task_3", retryCount: 1, timeoutSeconds: 120, responseTimeoutSeconds: 120 }]);
    }
  });
});

describe("EXCLUSIVE_JOIN", () => {
  const cases: [Record<string, boolean>, string[], string][] = [
    [{ decision_1: true, decision_2: true }, ["integration_task_1", "integration_task_2", "integration_task_3"], "task3"],
    [{ decision_1: true, decision_2: false }, ["integration_task_1", "integration_task_2"], "task2"],
    [{ decision_1: false, decision_3: true }, ["integration_task_1", "integration_task_4", "integration_task_5"], "task5"],
    [{ decision_1: false, decision_3: false }, ["integration_task_1", "integration_task_4"], "task4"],
  ];
  for (const [decisions, types, last] of cases) {
    it(`outputs the first completed of joinOn, else of the defaults: ${JSON.stringify(decisions)} → ${last}`, async () => {
      const id = await h.client.startWorkflow("ExclusiveJoinTestWorkflow", { payload: "p", ...decisions });
      for (const type of types) await completeNext(h, type, { from: type });
      const run = await h.client.getWorkflow(id);
      assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
      assert.deepEqual(task(run, "exclusiveJoin").outputData, { from: types.at(-1) });
      void last;
    });
  }
});

describe("JSON_JQ_TRANSFORM", () => {
  it("outputs result and resultList", async () => {
    const run = await h.client.executeWorkflow("test_json_jq_transform_wf", { in1: { array: ["a", "b"] }, in2: { array: ["c"] } });
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.deepEqual(task(run, "jq_1").outputData, { result: { out: ["a", "b", "c"] }, resultList: [{ out: ["a", "b", "c"] }] });
  });

  it("a jq result drives a DECISION; a query taken from another task's output runs", async () => {
    const run = await h.client.executeWorkflow("json_jq_transform_result_wf", { requestedAction: "redeliver" });
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.equal((task(run, "json_jq_1").outputData as Record<string, unknown>)["result"], "CREATE");
    assert.deepEqual((task(run, "json_jq_2").outputData as Record<string, unknown>)["result"], ["redeliver", "redeliver_from_validation_error", "redelivery"]);
    assert.deepEqual((task(run, "decide_2").outputData as Record<string, unknown>)["caseOutput"], ["true"]);
    const seq = await h.client.executeWorkflow("sequential_json_jq_transform_wf", { body: { x: 1 } });
    assert.equal(seq.status, "COMPLETED", seq.reasonForIncompletion);
    assert.deepEqual((task(seq, "request_transform").outputData as Record<string, unknown>)["result"], { x: 1 });
  });

  it("a jq error fails the task with jq's message", async () => {
    await h.client.registerWorkflowDef(
      flowOf("jq_error", [
        { name: "jq", taskReferenceName: "jq", type: "JSON_JQ_TRANSFORM", inputParameters: { queryExpression: '.a | error("boom")', a: 1 } },
      ]),
    );
    const run = await h.client.executeWorkflow("jq_error", {});
    assert.equal(run.status, "FAILED");
    assert.equal(task(run, "jq").status, "FAILED");
    assert.match(task(run, "jq").reasonForIncompletion ?? "", /boom/);
  });

  it("a synchronous system task after a worker task: the run's output comes from jq", async () => {
    const id = await h.client.startWorkflow("workflow_with_synchronous_system_task", { param1: "x" });
    await completeNext(h, "integration_task_1", { op: { TEST_SAMPLE: [1, 2, 3] } });
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.equal((task(run, "jsonjq").outputData as Record<string, unknown>)["result"], 3);
  });
});

describe("START_WORKFLOW", () => {
  it("starts the named run with the same correlationId", async () => {
    const id = await h.client.startWorkflow(
      "workflow_that_starts_another_workflow",
      { startWorkflow: { name: "test_lambda_wf", input: { a: 1 } } },
      { correlationId: "corr-start" },
    );
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    const started = (task(run, "st").outputData as Record<string, unknown>)["workflowId"] as string;
    const child = await waitForStatus(h, started, "COMPLETED");
    assert.equal(child.workflowName, "test_lambda_wf");
    assert.equal(child.correlationId, "corr-start");
    assert.equal(child.parentWorkflowId, undefined, "not linked as a sub-workflow");
    assert.deepEqual((task(child, "lambda0").outputData as Record<string, unknown>)["result"], { testvalue: true });
  });

  it("a malformed request, or one naming no workflow, fails the task", async () => {
    for (const startWorkflow of [{ input: {} }, { name: "test_lambda_wf", version: "one" }, "not an object", { name: "no_such_workflow" }]) {
      const id = await h.client.startWorkflow("workflow_that_starts_another_workflow", { startWorkflow });
      const run = await h.client.getWorkflow(id);
      assert.equal(run.status, "FAILED", JSON.stringify(startWorkflow));
      assert.equal(task(run, "st").status, "FAILED");
    }
  });
});

describe("EVENT and async complete", () => {
  it("an EVENT publishes to its sink and completes at once", async () => {
    const id = await h.client.startWorkflow("test_event_workflow", { x: 1 });
    let run = await h.client.getWorkflow(id);
    assert.deepEqual(statuses(run), [
      ["wait0", "COMPLETED"],
      ["t1", "SCHEDULED"],
    ]);
    assert.equal((task(run, "wait0").outputData as Record<string, unknown>)["event_produced"], "conductor:test_event_workflow:wait0");
    // What handlers of that name then do is in event-handlers.test.ts.
    await completeNext(h, "integration_task_1");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
  });

  it("an asyncComplete EVENT stays IN_PROGRESS until completed from outside", async () => {
    const def = fixture("event_workflow_integration_test.json") as { tasks: Record<string, unknown>[] };
    def.tasks[0]!["asyncComplete"] = true;
    await h.client.registerWorkflowDef({ ...def, name: "event_async_complete" });
    const id = await h.client.startWorkflow("event_async_complete", {});
    let run = await h.client.getWorkflow(id);
    assert.equal(task(run, "wait0").status, "IN_PROGRESS");
    assert.equal(await poll(h, "integration_task_1", 50), undefined);
    await h.client.signalTask(id, { taskReferenceName: "wait0" }, { output: { acked: true } });
    run = await h.client.getWorkflow(id);
    assert.equal(task(run, "wait0").status, "COMPLETED");
    assert.equal((task(run, "wait0").outputData as Record<string, unknown>)["acked"], true);
    await completeNext(h, "integration_task_1");
  });

  it("an asyncComplete USER_TASK (a task type Conductor's harness defines) is handed to its worker", async () => {
    const id = await h.client.startWorkflow("async_complete_integration_test_wf", { param1: "p1" });
    await completeNext(h, "integration_task_1", { op: "o" });
    const user = await mustPoll(h, "user_task");
    assert.deepEqual(input(user), { input: "o" });
    await answer(h, user, "COMPLETED", { uuid: "u" });
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.output, { o1: "p1", o2: "u", o3: "o" });
  });
});

describe("rerun, restart", () => {
  it("rerun from a task: the tasks after it are dropped and the flow resumes there", async () => {
    const id = await h.client.startWorkflow("integration_test_wf3", { param1: "p" });
    await completeNext(h, "integration_task_1", { op: "first" });
    await completeNext(h, "integration_task_2");
    await completeNext(h, "integration_task_3");
    assert.equal((await h.client.getWorkflow(id)).status, "COMPLETED");
    await h.client.rerunWorkflow(id, { taskReferenceName: "t2" }, { taskInput: { tp1: "new input" } });
    let run = await h.client.getWorkflow(id);
    assert.equal(run.status, "RUNNING");
    assert.deepEqual(statuses(run), [
      ["t1", "COMPLETED"],
      ["t2", "SCHEDULED"],
    ]);
    const t2 = await mustPoll(h, "integration_task_2");
    assert.deepEqual(input(t2), { tp1: "new input" });
    await answer(h, t2, "COMPLETED");
    await completeNext(h, "integration_task_3");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.equal(run.tasks.length, 3);
  });

  it("rerun from a task in one fork branch: the other branch's lost tasks resume and the join waits again", async () => {
    const id = await h.client.startWorkflow("FanInOutTest", {});
    await completeNext(h, "integration_task_1");
    await completeNext(h, "integration_task_2");
    await completeNext(h, "integration_task_3");
    await completeNext(h, "integration_task_4");
    assert.equal((await h.client.getWorkflow(id)).status, "COMPLETED");
    await h.client.rerunWorkflow(id, { taskReferenceName: "t2" });
    let run = await h.client.getWorkflow(id);
    assert.equal(run.status, "RUNNING");
    assert.equal(task(run, "fanouttask_join").status, "IN_PROGRESS");
    for (const type of ["integration_task_2", "integration_task_3", "integration_task_4"]) await completeNext(h, type);
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED", JSON.stringify(statuses(run)));
    assert.deepEqual(run.tasks.map((t) => t.referenceTaskName).sort(), ["fanouttask", "fanouttask_join", "t1", "t2", "t3", "t4"]);
  });

  it("rerun from a task inside a loop iteration: the loop resumes at that iteration", async () => {
    const id = await h.client.startWorkflow("Do_While_Multiple", { loop: 2, loop2: 1 });
    for (let i = 0; i < 2; i++) for (const type of ["integration_task_0", "integration_task_1", "integration_task_2"]) await completeNext(h, type);
    await completeNext(h, "integration_task_3");
    assert.equal((await h.client.getWorkflow(id)).status, "COMPLETED");
    await h.client.rerunWorkflow(id, { taskReferenceName: "integration_task_0__2" });
    let run = await h.client.getWorkflow(id);
    assert.equal(run.status, "RUNNING");
    assert.equal(task(run, "loopTask").status, "IN_PROGRESS");
    for (const type of ["integration_task_0", "integration_task_1", "integration_task_2", "integration_task_3"]) await completeNext(h, type);
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED", JSON.stringify(statuses(run)));
    assert.equal((task(run, "loopTask").outputData as Record<string, unknown>)["iteration"], 2);
  });

  it("restart with the latest definition runs the new version", async () => {
    const base = { ...fixture("simple_workflow_1_integration_test.json"), name: "restart_latest" };
    await h.client.registerWorkflowDef(base);
    const id = await h.client.startWorkflow("restart_latest", { param1: "p" });
    await completeNext(h, "integration_task_1");
    await completeNext(h, "integration_task_2");
    await h.client.registerWorkflowDef({
      ...base,
      version: 2,
      tasks: [...(base.tasks as object[]), { name: "integration_task_3", taskReferenceName: "t3", type: "SIMPLE" }],
    });
    await h.client.restartWorkflow(id);
    await completeNext(h, "integration_task_1");
    await completeNext(h, "integration_task_2");
    let run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED", "without useLatestDefinition the run keeps version 1");
    assert.equal(run.workflowVersion, 1);
    await h.client.restartWorkflow(id, { useLatestDefinition: true });
    for (const type of ["integration_task_1", "integration_task_2", "integration_task_3"]) await completeNext(h, type);
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.equal(run.workflowVersion, 2);
    assert.equal(run.tasks.length, 3);
  });

  it("restart is refused for a definition with restartable: false", async () => {
    await h.client.registerWorkflowDef({ ...fixture("simple_workflow_1_integration_test.json"), name: "not_restartable", restartable: false });
    const id = await h.client.startWorkflow("not_restartable", {});
    await answer(h, await mustPoll(h, "integration_task_1"), "FAILED_WITH_TERMINAL_ERROR");
    await assert.rejects(h.client.restartWorkflow(id), /restartable/);
    assert.equal((await h.client.getWorkflow(id)).status, "FAILED");
  });
});
