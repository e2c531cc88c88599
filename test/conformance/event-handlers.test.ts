// Conductor event handlers: registered unchanged, triggered by PublishEvent and
// by EVENT tasks, conditions and `active` respected, invalid JSON refused with
// its paths. `h.settle()` drains the event bus, so "no action" is asserted
// after every earlier event has been handled, not after a sleep.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import pg from "pg";
import { grpc } from "@baton/protocol";
import type { Harness } from "../support/harness.js";
import { conformanceHooks, fixture, task, waitForRun, waitForStatus } from "./support.js";
import { eventually } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

let h: Harness;
conformanceHooks(async (harness) => {
  h = harness;
  await h.client.registerWorkflowDef(flowOf("sqs_wait_flow", [{ name: "wait_for_sqs_event", taskReferenceName: "wait_for_sqs_event_ref", type: "WAIT" }]));
  await h.client.registerWorkflowDef(flowOf("event_target_flow", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
});

/** Runs of `name` with this correlation id, after every event published so far has been handled. */
async function runsOf(name: string, correlationId: string) {
  await h.settle();
  return (await h.client.searchWorkflows({ name, correlationId })).workflows;
}

function rpcCode(error: unknown): number | undefined {
  return (error as { code?: number }).code;
}

describe("event handlers", () => {
  it("(a) registers Conductor's sqs handler unchanged; its event completes the WAIT", async () => {
    const handler = fixture("sqs-complete-wait-event-handler.json");
    const registered = await h.client.registerEventHandler(handler);
    assert.equal(registered.name, "sqs_complete_wait_task_handler");
    assert.deepEqual(registered.warnings, []);
    assert.deepEqual(await h.client.getEventHandler(handler.name), handler);
    // Registering the same JSON again changes nothing.
    assert.equal((await h.client.registerEventHandler(handler)).changed, false);

    const id = await h.client.startWorkflow("sqs_wait_flow", {});
    assert.equal(task(await h.client.getWorkflow(id), "wait_for_sqs_event_ref").status, "IN_PROGRESS");
    const published = await h.client.publishEvent("sqs:conductor-test-sqs-COMPLETED", { workflowInstanceId: id });
    assert.equal(published.activeHandlers, 1);
    const run = await waitForStatus(h, id, "COMPLETED");
    const wait = task(run, "wait_for_sqs_event_ref");
    assert.equal(wait.status, "COMPLETED");
    const output = wait.outputData as Record<string, unknown>;
    assert.equal(output["eventReceived"], true);
    assert.equal(output["completedBy"], "event_handler");
    // `${$.currentTimeMillis()}` is the server clock's now (the harness's manual clock).
    assert.equal(output["completedAt"], h.clock.now());
    assert.equal(output["workflowId"], id);
    assert.equal(output["conductor.event.name"], "sqs:conductor-test-sqs-COMPLETED");
    assert.equal(output["conductor.event.messageId"], String(published.eventId));

    // The same event again: the task has ended, so the action is ignored and the run stays as it is.
    await h.client.publishEvent("sqs:conductor-test-sqs-COMPLETED", { workflowInstanceId: id });
    await h.settle();
    const again = await h.client.getWorkflow(id);
    assert.equal(again.status, "COMPLETED");
    assert.equal(again.tasks.length, 1);
    assert.equal(task(again, "wait_for_sqs_event_ref").updateTime, wait.updateTime);
  });

  it("(b) an EVENT task with sink conductor triggers conductor:<workflow>:<taskRef> handlers", async () => {
    assert.equal(fixture("event_workflow_integration_test.json").name, "test_event_workflow");
    await h.client.registerEventHandler({
      name: "start_on_wait0",
      event: "conductor:test_event_workflow:wait0",
      condition: "$.workflowType === 'test_event_workflow'",
      evaluatorType: "javascript",
      actions: [
        {
          action: "start_workflow",
          start_workflow: {
            name: "event_target_flow",
            correlationId: "${workflowInstanceId}",
            input: { source: "${workflowInstanceId}", version: "${workflowVersion}", note: "from ${workflowType}" },
          },
        },
      ],
      active: true,
    });
    const id = await h.client.startWorkflow("test_event_workflow", {});
    const source = await h.client.getWorkflow(id);
    assert.equal(task(source, "wait0").status, "COMPLETED");
    const started = await eventually(
      () => runsOf("event_target_flow", id),
      (runs) => runs.length > 0,
    );
    assert.equal(started.length, 1);
    const target = started[0]!;
    assert.equal(target.input["source"], id);
    assert.equal(target.input["version"], 1);
    assert.equal(target.input["note"], "from test_event_workflow");
    assert.equal(target.input["conductor.event.name"], "conductor:test_event_workflow:wait0");
    // Handled once: settling again starts nothing more.
    assert.equal((await runsOf("event_target_flow", id)).length, 1);
  });

  it("(c) a false condition or an inactive handler takes no action", async () => {
    await h.client.registerEventHandler({
      name: "only_when_go",
      event: "test:conditional",
      condition: "$.go === true",
      evaluatorType: "javascript",
      actions: [{ action: "start_workflow", start_workflow: { name: "event_target_flow", correlationId: "${tag}" } }],
      active: true,
    });
    await h.client.registerEventHandler({
      name: "value_param",
      event: "test:conditional",
      condition: "flags.start",
      evaluatorType: "value-param",
      actions: [{ action: "start_workflow", start_workflow: { name: "event_target_flow", correlationId: "vp-${tag}" } }],
      active: true,
    });
    const sleeping = await h.client.registerEventHandler({
      name: "asleep",
      event: "test:inactive",
      actions: [{ action: "start_workflow", start_workflow: { name: "event_target_flow", correlationId: "inactive" } }],
      active: false,
    });
    assert.deepEqual(sleeping.warnings, []);

    assert.equal((await h.client.publishEvent("test:conditional", { go: false, tag: "no", flags: { start: false } })).activeHandlers, 2);
    assert.equal((await h.client.publishEvent("test:inactive", { tag: "inactive" })).activeHandlers, 0);
    assert.deepEqual(await runsOf("event_target_flow", "no"), []);
    assert.deepEqual(await runsOf("event_target_flow", "vp-no"), []);
    assert.deepEqual(await runsOf("event_target_flow", "inactive"), []);

    await h.client.publishEvent("test:conditional", { go: true, tag: "yes", flags: { start: "true" } });
    assert.equal((await runsOf("event_target_flow", "yes")).length, 1);
    assert.equal((await runsOf("event_target_flow", "vp-yes")).length, 1);

    // Turned on, the handler acts on the next event.
    await h.client.registerEventHandler({ ...(await h.client.getEventHandler("asleep")), active: true });
    await h.client.publishEvent("test:inactive", {});
    assert.equal((await runsOf("event_target_flow", "inactive")).length, 1);
    const listed = await h.client.listEventHandlers({ event: "test:conditional" });
    assert.deepEqual(
      listed.map((x) => x["name"]),
      ["only_when_go", "value_param"],
    );
  });

  it("(d) invalid handler JSON is refused with every error's path, and nothing is stored", async () => {
    const bad = {
      name: "broken_handler",
      evaluatorType: "python",
      actions: [{ action: "explode" }, { action: "complete_task", complete_task: { output: {} } }, { action: "start_workflow", start_workflow: {} }],
      active: "yes",
    };
    const error = await h.client.registerEventHandler(bad).then(
      () => assert.fail("an invalid handler was accepted"),
      (e: unknown) => e,
    );
    assert.equal(rpcCode(error), grpc.status.INVALID_ARGUMENT);
    const message = (error as Error).message;
    for (const path of ["/event", "/evaluatorType", "/active", "/actions/0/action", "/actions/1/complete_task", "/actions/2/start_workflow/name"]) {
      assert.ok(message.includes(`${path}:`), `${path} in ${message}`);
    }
    const missing = await h.client.getEventHandler("broken_handler").then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.equal(rpcCode(missing), grpc.status.NOT_FOUND);
    assert.ok(!(await h.client.listEventHandlers()).some((x) => x["name"] === "broken_handler"));
    const noActions = await h.client.registerEventHandler({ name: "x", event: "e", actions: [], active: true }).catch((e: unknown) => e as Error);
    assert.match((noActions as Error).message, /\/actions: actions must hold at least one action/);
  });

  it("fail_task, terminate_workflow and delete", async () => {
    await h.client.registerEventHandler({
      name: "fail_or_stop",
      event: "test:control",
      actions: [
        { action: "fail_task", fail_task: { workflowId: "${failId}", taskRefName: "hold", output: { why: "${why}" } } },
        { action: "terminate_workflow", terminate_workflow: { workflowId: "${stopId}", terminationReason: "stopped: ${why}" } },
      ],
      active: true,
    });
    const failId = await h.client.startWorkflow("event_target_flow", {});
    const stopId = await h.client.startWorkflow("event_target_flow", {});
    // expandInlineJSON is per action; here the payload is plain.
    await h.client.publishEvent("test:control", { failId, stopId, why: "upstream said so" });
    const failed = await waitForStatus(h, failId, "FAILED");
    assert.equal(task(failed, "hold").status, "FAILED");
    assert.equal((task(failed, "hold").outputData as Record<string, unknown>)["why"], "upstream said so");
    const stopped = await waitForRun(h, stopId, (r) => r.status === "TERMINATED");
    assert.equal(stopped.reasonForIncompletion, "stopped: upstream said so");

    await h.client.deleteEventHandler("fail_or_stop");
    const gone = await h.client.getEventHandler("fail_or_stop").catch((e: unknown) => e);
    assert.equal(rpcCode(gone), grpc.status.NOT_FOUND);
  });

  it("update_workflow_variables merges into a running run's variables, appending lists on request", async () => {
    await h.client.registerEventHandler({
      name: "set_vars",
      event: "test:vars",
      actions: [
        {
          action: "update_workflow_variables",
          update_workflow_variables: { workflowId: "${id}", variables: { stage: "${stage}", seen: ["${stage}"] }, appendArray: true },
        },
      ],
      active: true,
    });
    const id = await h.client.startWorkflow("event_target_flow", {});
    await h.client.publishEvent("test:vars", { id, stage: "one" });
    await h.client.publishEvent("test:vars", { id, stage: "two" });
    await h.settle();
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "RUNNING");
    assert.deepEqual(run.variables, { stage: "two", seen: ["one", "two"] });
    await h.client.deleteEventHandler("set_vars");
  });

  it("expandInlineJSON reads JSON held in a string field of the payload", async () => {
    await h.client.registerEventHandler({
      name: "inline_json",
      event: "test:inline",
      actions: [
        {
          action: "complete_task",
          complete_task: { workflowId: "${body.runId}", taskRefName: "hold", output: { items: "${body.items}" } },
          expandInlineJSON: true,
        },
      ],
      active: true,
    });
    const id = await h.client.startWorkflow("event_target_flow", {});
    await h.client.publishEvent("test:inline", { body: JSON.stringify({ runId: id, items: [1, 2] }) });
    const run = await waitForStatus(h, id, "COMPLETED");
    assert.deepEqual((task(run, "hold").outputData as Record<string, unknown>)["items"], [1, 2]);
  });

  it("an event taken by a consumer that died is handled once its lease has run out", async () => {
    await h.client.registerEventHandler({
      name: "after_lease",
      event: "test:leased",
      actions: [{ action: "complete_task", complete_task: { workflowId: "${runId}", taskRefName: "hold" } }],
      active: true,
    });
    const id = await h.client.startWorkflow("event_target_flow", {});
    // As a replica that took the event and died would leave it: taken, leased for a minute, not deleted.
    const db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
    try {
      await db.query("INSERT INTO baton.events (name, sink, payload, created_at, taken_until, attempts) VALUES ($1, $1, $2, $3, $4, 1)", [
        "test:leased",
        JSON.stringify({ runId: id }),
        h.clock.now(),
        h.clock.now() + 60_000,
      ]);
      await h.settle();
      assert.equal((await h.client.getWorkflow(id)).status, "RUNNING");
      await h.advance(60_000);
      await waitForStatus(h, id, "COMPLETED");
      const { rows } = await db.query("SELECT count(*)::int AS n FROM baton.events WHERE name = 'test:leased'");
      assert.equal(rows[0].n, 0);
    } finally {
      await db.end();
    }
  });
});
