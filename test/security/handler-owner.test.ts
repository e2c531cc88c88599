// An event handler acts with the rights of the key that registered it, as
// they are when it fires (issue 14, point 6). Before, the rights were checked
// only at registration: a handler registered by an admin key went on
// completing HUMAN tasks after that key was revoked or reduced to publisher.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { eventually } from "../support/harness.js";
import { startSecureServer, type SecureServer } from "./support.js";
import { flowOf } from "../support/flows.js";

const approvalFlow = flowOf("owned_approval", [{ name: "approve", taskReferenceName: "approve", type: "HUMAN" }]);

const approveOn = (name: string, event: string) => ({
  name,
  event,
  active: true,
  actions: [{ action: "complete_task", complete_task: { workflowId: "${workflowId}", taskRefName: "approve", output: { approved: true } } }],
});

let s: SecureServer;
let operatorKey: string;

before(async () => {
  s = await startSecureServer({ conductor: { port: 0 } });
  operatorKey = (await s.registry.create({ role: "operator", name: "operator" })).key;
  const publisher = (await s.registry.create({ role: "publisher", name: "publisher" })).key;
  await s.client(publisher).registerWorkflowDef(approvalFlow);
});
after(() => s.close());

/** Starts a run and waits for its HUMAN task to wait. */
async function waitingRun(): Promise<string> {
  const operator = s.client(operatorKey);
  const id = await operator.startWorkflow(approvalFlow.name, {});
  await eventually(
    () => operator.getWorkflow(id),
    (run) => run.tasks.some((t) => t.status === "IN_PROGRESS"),
  );
  return id;
}

/** Publishes the event and waits until the consumer logs that it refused the handler's action for `why`. */
async function refused(event: string, runId: string, why: string): Promise<void> {
  await s.client(operatorKey).publishEvent(event, { workflowId: runId });
  await eventually(
    async () => s.log.text,
    (text) => text.includes(why),
  );
  const run = await s.client(operatorKey).getWorkflow(runId);
  assert.equal(run.status, "RUNNING");
  assert.equal(run.tasks[0]?.status, "IN_PROGRESS");
}

describe("an event handler acts with its owner's rights when it fires", () => {
  it("stops completing tasks once its owner key is revoked, and acts again when registered anew", async () => {
    const owner = await s.registry.create({ role: "admin", name: "owner" });
    await s.client(owner.key).registerEventHandler(approveOn("revoked_owner", "approvals.revoked"));
    const first = await waitingRun();
    await s.client(operatorKey).publishEvent("approvals.revoked", { workflowId: first });
    await eventually(
      () => s.client(operatorKey).getWorkflow(first),
      (run) => run.status === "COMPLETED",
    );

    await s.registry.revoke(owner.record.id);
    const second = await waitingRun();
    await refused("approvals.revoked", second, `its owner key ${owner.record.id} has been revoked`);

    // Registered again by an active admin key, the same handler acts for it.
    const admin = (await s.registry.create({ role: "admin", name: "admin" })).key;
    await s.client(admin).registerEventHandler(approveOn("revoked_owner", "approvals.revoked"));
    const third = await waitingRun();
    await s.client(operatorKey).publishEvent("approvals.revoked", { workflowId: third });
    await eventually(
      () => s.client(operatorKey).getWorkflow(third),
      (run) => run.status === "COMPLETED",
    );
  });

  it("stops completing tasks once its owner key's role no longer may (REST registration too)", async () => {
    const owner = await s.registry.create({ role: "admin", name: "reduced" });
    const response = await fetch(`http://${s.server.conductorAddress}/api/event`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-authorization": owner.key },
      body: JSON.stringify(approveOn("reduced_owner", "approvals.reduced")),
    });
    assert.equal(response.status, 200, await response.text());
    // No API changes a key's role; the database can, and the handler must follow it.
    const db = new pg.Client({ connectionString: s.databaseUrl });
    await db.connect();
    try {
      await db.query("UPDATE baton.api_keys SET role = 'publisher' WHERE id = $1", [owner.record.id]);
    } finally {
      await db.end();
    }
    const run = await waitingRun();
    await refused("approvals.reduced", run, `its owner key ${owner.record.id} (role publisher) may not call baton.v1.WorkflowService/SignalTask`);
  });

  it("refuses a handler with no owner (written before owners were kept) on a server that requires keys", async () => {
    const admin = (await s.registry.create({ role: "admin", name: "legacy" })).key;
    await s.client(admin).registerEventHandler(approveOn("legacy_owner", "approvals.legacy"));
    const db = new pg.Client({ connectionString: s.databaseUrl });
    await db.connect();
    try {
      await db.query("UPDATE baton.event_handlers SET owner_key = '' WHERE name = 'legacy_owner'");
    } finally {
      await db.end();
    }
    const run = await waitingRun();
    await refused("approvals.legacy", run, "the handler has no owner key");
  });
});
