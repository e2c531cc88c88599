// Conductor's deliberate behaviour that a Conductor user moving over, or any
// client reading runs, sees (issue 17, points 1-6). Each was observed on a real
// Conductor 3.21.14; test/conformance/diff/ runs the same flows on both engines.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ConductorWorkflow } from "@baton/client";
import { startHarness, type Harness } from "../support/harness.js";
import { statuses, task, waitForStatus } from "./support.js";
import { flowOf } from "../support/flows.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

type Task = Record<string, unknown>;
const js = (expression: string) => ({ evaluatorType: "javascript", expression });

async function run(
  name: string,
  tasks: Task[],
  extra: Record<string, unknown> = {},
  input: Record<string, unknown> = {},
  correlationId?: string,
): Promise<ConductorWorkflow> {
  await h.client.registerWorkflowDef({ ...flowOf(name, tasks), ...extra });
  return h.client.executeWorkflow(name, input, correlationId ? { correlationId } : {});
}

describe("1: a failed INLINE task", () => {
  it("ends FAILED_WITH_TERMINAL_ERROR with the message in output.error, readable downstream", async () => {
    const r = await run(
      "parity_inline_fails",
      [
        { name: "i", taskReferenceName: "i", type: "INLINE", optional: true, inputParameters: js("(function(){ throw new Error('boom'); })()") },
        { name: "after", taskReferenceName: "after", type: "INLINE", inputParameters: { ...js("$.e"), e: "${i.output.error}" } },
      ],
      { outputParameters: { e: "${after.output.result}" } },
    );
    assert.equal(r.status, "COMPLETED");
    // optional: the terminal failure is turned into COMPLETED_WITH_ERRORS and the flow goes on.
    assert.equal(task(r, "i").status, "COMPLETED_WITH_ERRORS");
    assert.match(String(task(r, "i").reasonForIncompletion), /boom/);
    assert.match(String(r.output["e"]), /boom/);
    const plain = await run("parity_inline_fails_plain", [{ name: "i", taskReferenceName: "i", type: "INLINE", inputParameters: js("nope.x") }]);
    assert.equal(plain.status, "FAILED");
    assert.equal(task(plain, "i").status, "FAILED_WITH_TERMINAL_ERROR");
    assert.match(String((task(plain, "i").outputData as Task)["error"]), /nope/);
  });
});

describe("2: JOIN", () => {
  const fork = (optionalFails: boolean) => [
    {
      name: "f",
      taskReferenceName: "f",
      type: "FORK_JOIN",
      forkTasks: [
        [{ name: "a", taskReferenceName: "a", type: "NOOP" }],
        [{ name: "b", taskReferenceName: "b", type: "INLINE", inputParameters: js("1 + 1") }],
        [
          {
            name: "q",
            taskReferenceName: "q",
            type: "JSON_JQ_TRANSFORM",
            optional: true,
            inputParameters: { queryExpression: optionalFails ? 'error("bad")' : ".x", x: 3 },
          },
        ],
      ],
    },
    { name: "j", taskReferenceName: "j", type: "JOIN", joinOn: ["a", "b", "q"] },
  ];

  it("leaves out forked tasks whose output is empty", async () => {
    const r = await run("parity_join_empty", fork(false), { outputParameters: { j: "${j.output}" } });
    assert.equal(r.status, "COMPLETED");
    assert.equal(task(r, "j").status, "COMPLETED");
    assert.deepEqual(r.output["j"], { b: { result: 2 }, q: { result: 3, resultList: [3] } });
  });

  it("ends COMPLETED_WITH_ERRORS when an optional branch failed, naming it", async () => {
    const r = await run("parity_join_optional", fork(true), { outputParameters: { j: "${j.output}" } });
    assert.equal(r.status, "COMPLETED");
    assert.equal(task(r, "q").status, "COMPLETED_WITH_ERRORS");
    const join = task(r, "j");
    assert.equal(join.status, "COMPLETED_WITH_ERRORS");
    assert.equal(join.reasonForIncompletion, `q/${task(r, "q").taskId} completed with errors`);
    assert.deepEqual(r.output["j"], { b: { result: 2 }, q: { error: "bad" } });
  });
});

describe("3: fork task records", () => {
  it("static and dynamic forks are typed FORK; a dynamic fork's output is empty, its forked tasks in its input", async () => {
    const stat = await run("parity_fork_static", [
      { name: "f", taskReferenceName: "f", type: "FORK_JOIN", forkTasks: [[{ name: "a", taskReferenceName: "a", type: "NOOP" }]] },
      { name: "j", taskReferenceName: "j", type: "JOIN", joinOn: ["a"] },
    ]);
    assert.equal(task(stat, "f").taskType, "FORK");
    const dyn = await run(
      "parity_fork_dynamic",
      [
        {
          name: "d",
          taskReferenceName: "d",
          type: "FORK_JOIN_DYNAMIC",
          dynamicForkTasksParam: "dt",
          dynamicForkTasksInputParamName: "di",
          inputParameters: { dt: "${workflow.input.tasks}", di: "${workflow.input.inputs}" },
        },
        { name: "j", taskReferenceName: "j", type: "JOIN" },
      ],
      {},
      {
        tasks: [
          { name: "x1", taskReferenceName: "x1", type: "INLINE" },
          { name: "x2", taskReferenceName: "x2", type: "NOOP" },
        ],
        inputs: { x1: js("3"), x2: {} },
      },
    );
    assert.equal(dyn.status, "COMPLETED");
    const d = task(dyn, "d");
    assert.equal(d.taskType, "FORK");
    assert.deepEqual(d.outputData, {});
    assert.deepEqual((d.inputData as Task)["forkedTasks"], ["x1", "x2"]);
    assert.deepEqual(task(dyn, "j").outputData, { x1: { result: 3 } });
  });
});

describe("4: TERMINATE", () => {
  it("without terminationReason the reason names the TERMINATE task; without workflowOutput the output is {} and outputParameters are not evaluated", async () => {
    const r = await run(
      "parity_terminate_plain",
      [{ name: "t", taskReferenceName: "t", type: "TERMINATE", inputParameters: { terminationStatus: "COMPLETED" } }],
      {
        outputParameters: { o: "x" },
      },
    );
    assert.equal(r.status, "COMPLETED");
    assert.equal(r.reasonForIncompletion, `Workflow is COMPLETED by TERMINATE task: ${task(r, "t").taskId}`);
    assert.deepEqual(r.output, {});
  });

  it("inside a DO_WHILE the ending iteration's outputs stay in the loop's output, and the loop gets no reason", async () => {
    const r = await run("parity_terminate_loop", [
      {
        name: "l",
        taskReferenceName: "l",
        type: "DO_WHILE",
        loopCondition: "$.l['iteration'] < 5",
        loopOver: [
          { name: "i", taskReferenceName: "i", type: "INLINE", inputParameters: js("7") },
          {
            name: "s",
            taskReferenceName: "s",
            type: "SWITCH",
            evaluatorType: "javascript",
            expression: "$.it == 2 ? 'stop' : 'go'",
            inputParameters: { it: "${l.output.iteration}" },
            decisionCases: {
              stop: [{ name: "t", taskReferenceName: "t", type: "TERMINATE", inputParameters: { terminationStatus: "FAILED", workflowOutput: { k: 1 } } }],
            },
          },
        ],
      },
    ]);
    assert.equal(r.status, "FAILED");
    assert.equal(r.reasonForIncompletion, `Workflow is FAILED by TERMINATE task: ${task(r, "t__2").taskId}`);
    assert.deepEqual(r.output, { k: 1 });
    const loop = task(r, "l");
    assert.equal(loop.status, "CANCELED");
    assert.equal(loop.reasonForIncompletion ?? "", "");
    const out = loop.outputData as Task;
    assert.equal(out["iteration"], 2);
    assert.deepEqual(out["2"], { i: { result: 7 }, s: { evaluationResult: ["stop"], selectedCase: "stop" }, t: {} });
  });
});

describe("5: workflow fields in expressions", () => {
  const fields = { c: "${workflow.correlationId}", sv: "${workflow.schemaVersion}", st: "${workflow.status}" };
  it("correlationId is null when none was given, schemaVersion is the definition's, status reads RUNNING in outputParameters", async () => {
    const r = await run("parity_workflow_fields", [{ name: "n", taskReferenceName: "n", type: "NOOP" }], { outputParameters: fields });
    assert.equal(r.status, "COMPLETED");
    assert.deepEqual(r.output, { c: null, sv: 2, st: "RUNNING" });
    const withId = await h.client.executeWorkflow("parity_workflow_fields", {}, { correlationId: "corr-5" });
    assert.equal(withId.output["c"], "corr-5");
  });

  it("a failing run evaluates them once it has failed", async () => {
    const r = await run("parity_workflow_fields_failed", [{ name: "i", taskReferenceName: "i", type: "INLINE", inputParameters: js("nope.x") }], {
      outputParameters: fields,
    });
    assert.equal(r.status, "FAILED");
    assert.equal(r.output["st"], "FAILED");
  });
});

describe("6: a failed sub-workflow", () => {
  it("its task's reason names the child, and the failure workflow's `reason` carries it", async () => {
    await h.client.registerWorkflowDef(
      flowOf("parity_child_fails", [
        { name: "t", taskReferenceName: "t", type: "TERMINATE", inputParameters: { terminationStatus: "FAILED", terminationReason: "child says no" } },
      ]),
    );
    await h.client.registerWorkflowDef(flowOf("parity_on_failure", [{ name: "n", taskReferenceName: "n", type: "NOOP" }], { r: "${workflow.input.reason}" }));
    const r = await run(
      "parity_parent",
      [{ name: "c", taskReferenceName: "c", type: "SUB_WORKFLOW", subWorkflowParam: { name: "parity_child_fails", version: 1 } }],
      {
        failureWorkflow: "parity_on_failure",
      },
    );
    assert.equal(r.status, "FAILED");
    const c = task(r, "c");
    assert.deepEqual(statuses(r), [["c", "FAILED"]]);
    const expected = `Sub workflow parity_child_fails.1/${c.subWorkflowId} failure reason: child says no`;
    assert.equal(c.reasonForIncompletion, expected);
    assert.equal(r.reasonForIncompletion, `Task ${c.taskId} failed with status: FAILED and reason: '${expected}'`);
    const failure = await waitForStatus(h, String(r.output["conductor.failure_workflow"]), "COMPLETED");
    assert.equal(failure.output["r"], r.reasonForIncompletion);
  });
});
