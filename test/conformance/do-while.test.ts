// SCENARIOS.md 11: DO_WHILE — iterations named <ref>__N, output per iteration,
// loops with forks, decisions and sub-workflows, failure and retry inside a loop.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Harness } from "../support/harness.js";
import { answer, completeNext, mustPoll } from "../support/worker.js";
import { conformanceHooks, fixture, refs, statuses, task, taskDef, waitForStatus, withTaskDefs } from "./support.js";
import { flowOf } from "../support/flows.js";

let h: Harness;
conformanceHooks((harness) => {
  h = harness;
});

describe("scenario 11: DO_WHILE", () => {
  it("one iteration of a loop with a fork inside: children named <ref>__1, 6 tasks", async () => {
    const id = await h.client.startWorkflow("Do_While_Workflow", { loop: 1 });
    let run = await h.client.getWorkflow(id);
    assert.deepEqual(statuses(run), [
      ["loopTask", "IN_PROGRESS"],
      ["integration_task_0__1", "SCHEDULED"],
    ]);
    await completeNext(h, "integration_task_0", { zero: 1 });
    run = await h.client.getWorkflow(id);
    assert.deepEqual(statuses(run).slice(2), [
      ["fork__1", "COMPLETED"],
      ["integration_task_1__1", "SCHEDULED"],
      ["integration_task_2__1", "SCHEDULED"],
      ["join__1", "IN_PROGRESS"],
    ]);
    assert.ok(run.tasks.slice(1).every((t) => t.iteration === 1));
    await completeNext(h, "integration_task_1", { one: 1 });
    await completeNext(h, "integration_task_2", { two: 2 });
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.equal(run.tasks.length, 6);
    const loop = task(run, "loopTask");
    const out = loop.outputData as Record<string, Record<string, unknown>>;
    assert.equal(out["iteration"], 1);
    assert.deepEqual(out["1"]!["integration_task_0"], { zero: 1 });
    // Conductor keys a join inside a loop by the iteration's instance names.
    assert.deepEqual(out["1"]!["join"], { integration_task_1__1: { one: 1 }, integration_task_2__1: { two: 2 } });
  });

  it("five tasks per iteration, two iterations: 12 tasks; the task after the loop has iteration 0", async () => {
    const id = await h.client.startWorkflow("do_while_five_loop_over_integration_test", { loop: 2 });
    for (let i = 0; i < 2; i++) {
      await completeNext(h, "integration_task_1");
      await completeNext(h, "integration_task_2");
    }
    await completeNext(h, "integration_task_3");
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.equal(run.tasks.length, 12);
    assert.deepEqual(
      run.tasks.map((t) => t.iteration),
      [2, 1, 1, 1, 1, 1, 2, 2, 2, 2, 2, 0],
    );
    assert.equal(task(run, "integration_task_3").iteration, 0);
    assert.deepEqual((task(run, "jq_add_location__2").outputData as Record<string, unknown>)["result"], { out: { locationId: "some location id" } });
  });

  it("a child failing for good cancels the loop and fails the run; retry reschedules it inside the loop", async () => {
    await withTaskDefs(h, [{ ...taskDef("integration_task_1"), retryCount: 0 }], async () => {
      const id = await h.client.startWorkflow("Do_While_Workflow", { loop: 2 });
      await completeNext(h, "integration_task_0");
      await completeNext(h, "integration_task_2");
      await answer(h, await mustPoll(h, "integration_task_1"), "FAILED", {}, { reason: "in loop" });
      let run = await h.client.getWorkflow(id);
      assert.equal(run.status, "FAILED");
      assert.equal(task(run, "loopTask").status, "CANCELED");
      assert.equal(task(run, "join__1").status, "CANCELED");
      await h.client.retryWorkflow(id);
      run = await h.client.getWorkflow(id);
      assert.equal(run.status, "RUNNING");
      assert.equal(task(run, "loopTask").status, "IN_PROGRESS");
      assert.deepEqual(statuses(run).at(-1), ["integration_task_1__1", "SCHEDULED"]);
      await completeNext(h, "integration_task_1");
      run = await h.client.getWorkflow(id);
      assert.equal(task(run, "join__1").status, "COMPLETED");
      assert.equal(task(run, "integration_task_0__2").status, "SCHEDULED");
      await completeNext(h, "integration_task_0");
      await completeNext(h, "integration_task_1");
      await completeNext(h, "integration_task_2");
      run = await h.client.getWorkflow(id);
      assert.equal(run.status, "COMPLETED");
      assert.equal(task(run, "loopTask").outputData && (task(run, "loopTask").outputData as Record<string, unknown>)["iteration"], 2);
    });
  });

  it("two loops in sequence, each with its own counter", async () => {
    const id = await h.client.startWorkflow("Do_While_Multiple", { loop: 1, loop2: 2 });
    await completeNext(h, "integration_task_0");
    await completeNext(h, "integration_task_1");
    await completeNext(h, "integration_task_2");
    await completeNext(h, "integration_task_3");
    await completeNext(h, "integration_task_3");
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(refs(run).slice(-3), ["loopTask2", "integration_task_3__1", "integration_task_3__2"]);
    assert.equal((task(run, "loopTask2").outputData as Record<string, unknown>)["iteration"], 2);
  });

  it("a sub-workflow in the loop body: each iteration starts a child", async () => {
    const id = await h.client.startWorkflow("Do_While_Sub_Workflow", { loop: 2 });
    for (let i = 0; i < 2; i++) {
      await completeNext(h, "integration_task_0");
      await completeNext(h, "integration_task_1");
      await completeNext(h, "integration_task_2");
      await completeNext(h, "simple_task_in_sub_wf", { iteration: i + 1 });
    }
    const run = await waitForStatus(h, id, "COMPLETED");
    const children = run.tasks.filter((t) => t.taskType === "SUB_WORKFLOW");
    assert.deepEqual(
      children.map((t) => t.referenceTaskName),
      ["st1__1", "st1__2"],
    );
    assert.notEqual(children[0]!.subWorkflowId, children[1]!.subWorkflowId);
    const out = task(run, "loopTask").outputData as Record<string, Record<string, Record<string, unknown>>>;
    assert.equal(out["2"]!["st1"]!["iteration"], 2);
  });

  it("LAMBDA reads the loop's iteration through ${loopTask['iteration']}", async () => {
    const run = await h.client.executeWorkflow("Do_While_Workflow_Iteration_Fix", { loop: 3 }, { waitMs: 10_000 });
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.deepEqual(
      run.tasks.filter((t) => t.taskType === "LAMBDA").map((t) => (t.outputData as Record<string, unknown>)["result"]),
      [0, 1, 2],
    );
  });

  it("SET_VARIABLE in the loop body ends a loop whose condition reads a variable", async () => {
    await h.client.registerWorkflowDef({
      name: "do_while_Set_variable_fix_with_start",
      version: 1,
      schemaVersion: 2,
      variables: { value: 1 },
      tasks: [
        {
          name: "loopTask",
          taskReferenceName: "loopTask",
          type: "DO_WHILE",
          inputParameters: { value: "${workflow.variables.value}" },
          loopCondition: "if ($.value > 0) { true; } else { false; } ",
          loopOver: [{ name: "set_variable", taskReferenceName: "set_variable", type: "SET_VARIABLE", inputParameters: { value: 0 } }],
        },
      ],
    });
    const run = await h.client.executeWorkflow("do_while_Set_variable_fix_with_start", {}, { waitMs: 10_000 });
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    // Conductor re-resolves the DO_WHILE's input before each evaluation, so the variable set to 0 ends it.
    assert.equal((task(run, "loopTask").outputData as Record<string, unknown>)["iteration"], 1);
    // The fixture itself (no initial variable) runs exactly once too.
    const fixtureRun = await h.client.executeWorkflow("do_while_Set_variable_fix", {}, { waitMs: 10_000 });
    assert.equal(fixtureRun.status, "COMPLETED", fixtureRun.reasonForIncompletion);
    assert.equal((task(fixtureRun, "loopTask").outputData as Record<string, unknown>)["iteration"], 1);
  });

  it("keepLastN keeps only the last N iterations in the output", async () => {
    // do_while_cleanup_demo's scripts read `$.do_while_loop_ref`, which is not among their inputs:
    // in Conductor as here that is a TypeError, so the demo fails at its first script.
    const demo = await h.client.executeWorkflow("do_while_cleanup_demo", { max_iterations: 5 }, { waitMs: 20_000 });
    assert.equal(demo.status, "FAILED");
    assert.match(demo.reasonForIncompletion ?? "", /TypeError/);
    // The same loop with the iteration passed in as an input.
    const def = fixture("do_while_cleanup_demo.json") as { name: string; tasks: Record<string, unknown>[] };
    const loop = def.tasks[0] as { loopOver: { inputParameters: Record<string, unknown> }[] };
    for (const t of loop.loopOver) {
      t.inputParameters["iteration"] = "${do_while_loop_ref.output.iteration}";
      t.inputParameters["expression"] = String(t.inputParameters["expression"]).replaceAll("$.do_while_loop_ref['iteration']", "$.iteration");
    }
    const summary = def.tasks[1] as { inputParameters: Record<string, unknown> };
    summary.inputParameters["iteration"] = "${do_while_loop_ref.output.iteration}";
    summary.inputParameters["expression"] = String(summary.inputParameters["expression"]).replaceAll("$.do_while_loop_ref['iteration']", "$.iteration");
    await h.client.registerWorkflowDef({ ...def, name: "do_while_cleanup_demo_inputs" });
    const run = await h.client.executeWorkflow("do_while_cleanup_demo_inputs", { max_iterations: 5 }, { waitMs: 20_000 });
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    const out = task(run, "do_while_loop_ref").outputData as Record<string, unknown>;
    assert.equal(out["iteration"], 5);
    assert.deepEqual(
      Object.keys(out)
        .filter((k) => /^\d+$/.test(k))
        .sort(),
      ["3", "4", "5"],
    );
    const processed = (out["5"] as Record<string, Record<string, Record<string, unknown>>>)["process_data_ref"]!["result"]!;
    assert.deepEqual(processed, { iteration: 5, processed: true, count: 100 });
    assert.equal((task(run, "summary_ref").outputData as Record<string, Record<string, unknown>>)["result"]!["total_iterations"], 5);
  });

  it("items: the loop runs once per item, TERMINATE(TERMINATED) inside it ends the run TERMINATED", async () => {
    const run = await h.client.executeWorkflow("test_terminate_task_terminated_in_do_while", {}, { waitMs: 10_000 });
    assert.equal(run.status, "TERMINATED");
    assert.equal(run.reasonForIncompletion, "Workflow terminated by TERMINATE task in DO_WHILE loop");
    assert.deepEqual(statuses(run), [
      ["do_while_ref", "CANCELED"],
      ["lambda_ref__1", "COMPLETED"],
      ["terminate_ref__1", "COMPLETED"],
    ]);
  });

  it("a DO_WHILE inside a DO_WHILE is refused at registration (unsupported in Conductor too), storing nothing", async () => {
    const loop = (ref: string, loopOver: unknown[]) => ({ name: ref, taskReferenceName: ref, type: "DO_WHILE", loopCondition: "false", loopOver });
    const nested = flowOf("nested_loops", [loop("outer", [loop("inner", [{ name: "n", taskReferenceName: "n", type: "NOOP" }])])]);
    await assert.rejects(h.client.registerWorkflowDef(nested), (error: Error & { code?: number }) => {
      assert.equal(error.code, 3, "INVALID_ARGUMENT");
      assert.match(error.message, /\/tasks\/0\/loopOver\/0.*DO_WHILE inside a DO_WHILE.*SUB_WORKFLOW/);
      return true;
    });
    await assert.rejects(h.client.getWorkflowDef("nested_loops"), (error: Error & { code?: number }) => error.code === 5);
  });

  it("500 iterations of a LAMBDA body complete without stack or history blow-up", async () => {
    const run = await h.client.executeWorkflow("do_while_high_iteration_test", { loop: 500 }, { waitMs: 120_000 });
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.equal(run.tasks.length, 501);
    const out = task(run, "loopTask").outputData as Record<string, unknown>;
    assert.equal(out["iteration"], 500);
    assert.equal(task(run, "lambda_task__500").iteration, 500);
  });
});
