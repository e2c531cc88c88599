// Running a definition is publishing it, and an event handler acts on runs
// (issue 14, points 5 and 6). Before, an operator key ran any definition it
// sent (StartWorkflow.definition_json, or a SUB_WORKFLOW definition taken from
// the run's input), and a publisher key registered a handler that completed a
// HUMAN task the publisher could not signal.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { stringifyJson } from "@baton/protocol";
import { eventually } from "../support/harness.js";
import { codeOf, startSecureServer, type SecureServer } from "./support.js";
import { flowOf } from "../support/flows.js";

const inlineFlow = flowOf("inline_flow", [
  { name: "say", taskReferenceName: "say", type: "INLINE", inputParameters: { evaluatorType: "javascript", expression: "'ran'" } },
]);

/** A registered flow whose SUB_WORKFLOW runs whatever definition its input carries. */
const fromData = flowOf("sub_from_data", [
  { name: "child", taskReferenceName: "child", type: "SUB_WORKFLOW", subWorkflowParam: { workflowDefinition: "${workflow.input.def}" } },
]);

/** The same, with the child's definition written in the registered definition itself. */
const written = flowOf("sub_written", [
  { name: "child", taskReferenceName: "child", type: "SUB_WORKFLOW", subWorkflowParam: { workflowDefinition: inlineFlow } },
]);

const approvalFlow = flowOf("approval_flow", [{ name: "approve", taskReferenceName: "approve", type: "HUMAN" }]);

const approveHandler = (name: string) => ({
  name,
  event: "approvals",
  active: true,
  actions: [{ action: "complete_task", complete_task: { workflowId: "${workflowId}", taskRefName: "approve", output: { approved: true } } }],
});

let s: SecureServer;
const key: Record<string, string> = {};

before(async () => {
  s = await startSecureServer({ conductor: { port: 0 } });
  for (const role of ["admin", "publisher", "operator"] as const) key[role] = (await s.registry.create({ role, name: role })).key;
  await s.client(key["publisher"]).registerWorkflowDef(fromData);
  await s.client(key["publisher"]).registerWorkflowDef(written);
  await s.client(key["publisher"]).registerWorkflowDef(approvalFlow);
});
after(() => s.close());

async function rest(path: string, role: string, body: unknown): Promise<number> {
  const response = await fetch(`http://${s.server.conductorAddress}${path}`, {
    method: "POST",
    headers: { "content-type": "application/json", "x-authorization": key[role]! },
    body: JSON.stringify(body),
  });
  await response.text();
  return response.status;
}

describe("definitions sent with a start", () => {
  it("are refused to an operator key (StartWorkflow, ExecuteWorkflow, Conductor's REST) and run for an admin key", async () => {
    const operator = s.client(key["operator"]);
    const definitionJson = stringifyJson(inlineFlow);
    assert.equal(await codeOf(operator.workflows.startWorkflow({ name: "", definitionJson })), "PERMISSION_DENIED");
    assert.equal(await codeOf(operator.workflows.executeWorkflow({ start: { name: "", definitionJson }, waitMs: 0n })), "PERMISSION_DENIED");
    assert.equal(await rest("/api/workflow", "operator", { name: "inline_flow", workflowDef: inlineFlow }), 403);
    // The operator still starts registered flows by name.
    assert.ok(await operator.startWorkflow(written.name, {}));
    const { workflowId } = await s.client(key["admin"]).workflows.startWorkflow({ name: "", definitionJson });
    await eventually(
      () => s.client(key["admin"]).getWorkflow(workflowId),
      (run) => run.status === "COMPLETED",
    );
  });

  it("a SUB_WORKFLOW runs a definition written in its flow, not one from the run's data", async () => {
    const operator = s.client(key["operator"]);
    const ok = await operator.startWorkflow(written.name, {});
    await eventually(
      () => operator.getWorkflow(ok),
      (run) => run.status === "COMPLETED",
    );
    const refused = await operator.startWorkflow(fromData.name, { def: inlineFlow });
    const run = await eventually(
      () => operator.getWorkflow(refused),
      (r) => r.status === "FAILED",
    );
    assert.match(run.reasonForIncompletion ?? "", /definition from run data/);
  });
});

describe("definitions sent with a start, on a server that allows them", () => {
  let open: SecureServer;
  before(async () => {
    open = await startSecureServer({ inlineDefinitions: true });
  });
  after(() => open.close());

  it("run for an operator key, and so do SUB_WORKFLOW definitions from data", async () => {
    const operator = open.client((await open.registry.create({ role: "operator", name: "operator" })).key);
    const publisher = open.client((await open.registry.create({ role: "publisher", name: "publisher" })).key);
    const { workflowId } = await operator.workflows.startWorkflow({ name: "", definitionJson: stringifyJson(inlineFlow) });
    await eventually(
      () => operator.getWorkflow(workflowId),
      (run) => run.status === "COMPLETED",
    );
    await publisher.registerWorkflowDef(fromData);
    const id = await operator.startWorkflow(fromData.name, { def: inlineFlow });
    await eventually(
      () => operator.getWorkflow(id),
      (run) => run.status === "COMPLETED",
    );
  });
});

describe("event handlers", () => {
  it("a publisher key may not register a handler whose actions change runs (gRPC and REST)", async () => {
    const code = await codeOf(s.client(key["publisher"]).registerEventHandler(approveHandler("by_publisher")));
    assert.equal(code, "PERMISSION_DENIED");
    assert.equal(await rest("/api/event", "publisher", approveHandler("by_publisher_rest")), 403);
    assert.equal(await codeOf(s.client(key["admin"]).getEventHandler("by_publisher")), "NOT_FOUND");
  });

  it("an admin key's handler completes the HUMAN task", async () => {
    await s.client(key["admin"]).registerEventHandler(approveHandler("by_admin"));
    const operator = s.client(key["operator"]);
    const id = await operator.startWorkflow(approvalFlow.name, {});
    await eventually(
      () => operator.getWorkflow(id),
      (run) => run.tasks.some((t) => t.status === "IN_PROGRESS"),
    );
    await operator.publishEvent("approvals", { workflowId: id });
    await eventually(
      () => operator.getWorkflow(id),
      (run) => run.status === "COMPLETED",
    );
  });
});
