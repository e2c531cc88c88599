// Names and keys the server indexes are at most 512 characters (issue 14,
// probing on). PostgreSQL refuses an index entry over about 2.7 KB: an
// operator's start with a 3,000-character correlation id or idempotency key,
// a publisher's workflow or task definition with such a name, were answered
// INTERNAL with the database's text. Where run data supplied it, the write
// failed again and again: a START_WORKFLOW passing a long correlation id from
// its input stayed IN_PROGRESS while its outbox item was retried forever, and
// a DYNAMIC task named by its input made every write of the decision fail (the
// worker completing the task before it was answered INTERNAL, each time).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { MAX_NAME_CHARS } from "@baton/sdk";
import { eventually, startRestHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";
import { answer, mustPoll } from "../support/worker.js";

const LONG = "x".repeat(3000);
const STEP = "long_names_step";

/** The gRPC status name and message a call failed with. */
async function refusal(call: Promise<unknown>): Promise<string> {
  return call.then(
    () => "OK",
    (error: Error) => error.message,
  );
}

describe("names and keys the server indexes", () => {
  let h: Harness & { rest: string };
  before(async () => {
    h = await startRestHarness();
    await h.client.registerTaskDefs([{ name: STEP, retryCount: 0, responseTimeoutSeconds: 3600 }]);
    await h.client.registerWorkflowDef(flowOf("long_names_flow", [{ name: STEP, taskReferenceName: "step", type: "SIMPLE" }]));
  });
  after(() => h.close());

  it("a start's correlation id or idempotency key over the limit is refused, naming it; at the limit it starts", async () => {
    for (const field of ["correlationId", "idempotencyKey"]) {
      const message = await refusal(h.client.startWorkflow("long_names_flow", {}, { [field]: LONG }));
      assert.equal(
        message,
        `3 INVALID_ARGUMENT: ${field} is 3000 characters long, over the 512 allowed (it is indexed): use a shorter one, such as a hash of it`,
      );
      assert.match(await refusal(h.client.startWorkflow("long_names_flow", {}, { [field]: "é".repeat(MAX_NAME_CHARS) })), /^OK$/);
    }
    const rest = await fetch(`${h.rest}/api/workflow`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "long_names_flow", correlationId: LONG }),
    });
    const body = (await rest.json()) as { message: string };
    assert.equal(rest.status, 400, body.message);
    assert.match(body.message, /correlationId is 3000 characters long/);
  });

  it("a START_WORKFLOW given a long correlation id by its input fails, saying why, instead of waiting forever", async () => {
    await h.client.registerWorkflowDef(
      flowOf("long_names_starter", [
        {
          name: "start_child",
          taskReferenceName: "start_child",
          type: "START_WORKFLOW",
          inputParameters: { startWorkflow: { name: "long_names_flow", correlationId: "${workflow.input.cid}" } },
        },
      ]),
    );
    const id = await h.client.startWorkflow("long_names_starter", { cid: LONG });
    const run = await eventually(
      () => h.client.getWorkflow(id, { includeTasks: true }),
      (r) => r.status !== "RUNNING",
    );
    assert.equal(run.tasks[0]!.status, "FAILED");
    assert.match(run.tasks[0]!.reasonForIncompletion ?? "", /correlationId is 3000 characters long, over the 512 allowed/);
  });

  it("a DYNAMIC task named by its input with a long name fails, and the worker's update before it is applied", async () => {
    await h.client.registerWorkflowDef(
      flowOf("long_names_dynamic", [
        { name: "long_names_first", taskReferenceName: "first", type: "SIMPLE" },
        { name: "dyn", taskReferenceName: "dyn", type: "DYNAMIC", dynamicTaskNameParam: "tn", inputParameters: { tn: "${workflow.input.tn}" } },
      ]),
    );
    const id = await h.client.startWorkflow("long_names_dynamic", { tn: LONG });
    const task = await mustPoll(h, "long_names_first");
    assert.equal(await answer(h, task, "COMPLETED"), true);
    const run = await eventually(
      () => h.client.getWorkflow(id, { includeTasks: true }),
      (r) => r.status !== "RUNNING",
    );
    assert.equal(run.status, "FAILED");
    const dynamic = run.tasks.find((t) => t.referenceTaskName === "dyn")!;
    assert.equal(dynamic.status, "FAILED_WITH_TERMINAL_ERROR");
    assert.equal(dynamic.reasonForIncompletion, "the task's name is 3000 characters long, over the 512 allowed for a task name");
  });

  it("a dynamic fork's long task name fails the fork's task, not every write", async () => {
    await h.client.registerWorkflowDef(
      flowOf("long_names_fork", [
        {
          name: "fork",
          taskReferenceName: "fork",
          type: "FORK_JOIN_DYNAMIC",
          dynamicForkTasksParam: "tasks",
          dynamicForkTasksInputParamName: "inputs",
          inputParameters: { tasks: "${workflow.input.tasks}", inputs: "${workflow.input.inputs}" },
        },
        { name: "join", taskReferenceName: "join", type: "JOIN" },
      ]),
    );
    const id = await h.client.startWorkflow("long_names_fork", {
      tasks: [{ name: LONG, taskReferenceName: "branch", type: "SIMPLE" }],
      inputs: { branch: {} },
    });
    const run = await eventually(
      () => h.client.getWorkflow(id, { includeTasks: true }),
      (r) => r.status !== "RUNNING",
    );
    assert.equal(run.status, "FAILED");
    assert.match(run.reasonForIncompletion ?? "", /the task's name is 3000 characters long/);
  });

  it("definitions, task definitions and event handlers with long names are refused at registration, naming the field", async () => {
    const flow = (name: string, taskName: string) => flowOf(name, [{ name: taskName, taskReferenceName: "t", type: "SIMPLE" }]);
    assert.match(await refusal(h.client.registerWorkflowDef(flow(LONG, STEP))), /^3 INVALID_ARGUMENT: .*\/name.*512/);
    assert.match(await refusal(h.client.registerWorkflowDef(flow("long_names_task", LONG))), /^3 INVALID_ARGUMENT: .*\/tasks\/0\/name.*512/);
    assert.match(await refusal(h.client.registerTaskDefs([{ name: LONG }])), /^3 INVALID_ARGUMENT: .*512/);
    const action = { action: "complete_task", complete_task: { workflowId: "${id}", taskRefName: "t" } };
    assert.match(
      await refusal(h.client.registerEventHandler({ name: LONG, event: "e", active: true, actions: [action] })),
      /^3 INVALID_ARGUMENT: .*\/name: name is 3000 characters long; at most 512/,
    );
    assert.match(
      await refusal(h.client.registerEventHandler({ name: "long_names_handler", event: LONG, active: true, actions: [action] })),
      /^3 INVALID_ARGUMENT: .*\/event: event is 3000 characters long; at most 512/,
    );
    assert.match(
      await refusal(
        h.client.createSchedule({
          name: "long_names_schedule",
          cronExpression: "@daily",
          startWorkflowRequest: { name: "long_names_flow", correlationId: LONG },
        }),
      ),
      /^3 INVALID_ARGUMENT: .*correlationId is longer than 512 characters/,
    );
  });
});
