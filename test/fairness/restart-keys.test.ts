// A run another run started keeps the fairness key it took from that run
// however it is started again: a keyed parent's SUB_WORKFLOW child (whose
// own workflow names no key) restarted, retried or rerun from a task queues
// its task under the parent's key, as does a keyed run's START_WORKFLOW run
// restarted. Before, a restart started the run's marks afresh and keyed it
// from its own workflow alone: the child's task queued as the keyless
// lane's. Read from the queue rows and the run's marks (the fair claims and
// the per-key limits read both), on a real server and PostgreSQL.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

const TYPE = "restart_fair";
let h: Harness;
let db: pg.Client;

const work = { name: TYPE, taskReferenceName: "work", type: "SIMPLE" };

before(async () => {
  h = await startHarness();
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
  await h.client.registerTaskDefs([{ name: TYPE, retryCount: 0, responseTimeoutSeconds: 3600 }]);
  await h.client.registerWorkflowDef(flowOf("restart_fair_child", [work]));
  await h.client.registerWorkflowDef({
    ...flowOf("restart_fair_parent", [{ name: "child", taskReferenceName: "child", type: "SUB_WORKFLOW", subWorkflowParam: { name: "restart_fair_child" } }]),
    fairnessKey: "${workflow.input.tenant}",
    fairnessWeights: { big: 3 },
  });
  await h.client.registerWorkflowDef({ ...flowOf("restart_fair_limited", [work]), rateLimitConfig: { rateLimitKey: "one", concurrentExecLimit: 1 } });
  await h.client.registerWorkflowDef({
    ...flowOf("restart_fair_limited_parent", [
      { name: "child", taskReferenceName: "child", type: "SUB_WORKFLOW", subWorkflowParam: { name: "restart_fair_limited" } },
    ]),
    fairnessKey: "${workflow.input.tenant}",
  });
  await h.client.registerWorkflowDef({
    ...flowOf("restart_fair_starter", [
      {
        name: "start",
        taskReferenceName: "start",
        type: "START_WORKFLOW",
        inputParameters: { startWorkflow: { name: "restart_fair_child", input: {} } },
      },
    ]),
    fairnessKey: "${workflow.input.tenant}",
  });
});
after(async () => {
  await db.end();
  await h.close();
});

/** The run's queued task's key and weight, and the key its marks hold, once its task is queued. */
async function keyOf(runId: string): Promise<{ queued: string; weight: number; marked: string | null }> {
  await h.settle();
  const { rows } = await eventually(
    () =>
      db.query("SELECT q.fair_key, q.fair_weight, r.extra->>'fairKey' AS marked FROM baton.queue q JOIN baton.runs r ON r.id = q.run_id WHERE q.run_id = $1", [
        runId,
      ]),
    (r) => r.rows.length === 1,
  );
  return { queued: rows[0].fair_key, weight: rows[0].fair_weight, marked: rows[0].marked };
}

async function childOf(parentId: string): Promise<string> {
  const childId = await eventually(
    async () => (await h.client.getWorkflow(parentId, { includeTasks: true })).tasks.find((t) => t.subWorkflowId)?.subWorkflowId ?? "",
    (id) => id !== "",
  );
  return childId;
}

describe("an inherited fairness key, started again", () => {
  it("a keyed parent's child keeps the parent's key and weight through restart, retry and rerun", async () => {
    const parentId = await h.client.startWorkflow("restart_fair_parent", { tenant: "big" });
    const childId = await childOf(parentId);
    const inherited = { queued: "big", weight: 3, marked: "big" };
    assert.deepEqual(await keyOf(childId), inherited, "started: the parent's key");

    await h.client.terminateWorkflow(childId, "test");
    await h.client.restartWorkflow(childId);
    assert.deepEqual(await keyOf(childId), inherited, "restarted");

    await h.client.terminateWorkflow(childId, "test");
    await h.client.restartWorkflow(childId, { useLatestDefinition: true });
    assert.deepEqual(await keyOf(childId), inherited, "restarted on the latest definition");

    await h.client.terminateWorkflow(childId, "test");
    await h.client.retryWorkflow(childId);
    assert.deepEqual(await keyOf(childId), inherited, "retried");

    await h.client.terminateWorkflow(childId, "test");
    await h.client.rerunWorkflow(childId, { taskReferenceName: "work" });
    assert.deepEqual(await keyOf(childId), inherited, "rerun from its task");
  });

  it("a child restarted while its concurrency key is at its limit keeps the key once a slot frees", async () => {
    const parentId = await h.client.startWorkflow("restart_fair_limited_parent", { tenant: "held" });
    const childId = await childOf(parentId);
    assert.deepEqual(await keyOf(childId), { queued: "held", weight: 1, marked: "held" });
    await h.client.terminateWorkflow(childId, "test");
    // Another run takes the key's one slot; the restart waits for it, and runs again once it ends.
    const other = await h.client.startWorkflow("restart_fair_limited", {});
    await h.client.restartWorkflow(childId);
    assert.match((await h.client.getWorkflow(childId)).reasonForIncompletion ?? "", /queued: /);
    await h.client.terminateWorkflow(other, "test");
    assert.deepEqual(await keyOf(childId), { queued: "held", weight: 1, marked: "held" }, "admitted: restarted with the parent's key");
  });

  it("a keyed run's START_WORKFLOW run keeps its key when restarted", async () => {
    const starterId = await h.client.startWorkflow("restart_fair_starter", { tenant: "acme" });
    const startedId = await eventually(
      async () => {
        const { rows } = await db.query("SELECT id FROM baton.runs WHERE name = 'restart_fair_child' AND extra->>'root' = $1", [starterId]);
        return (rows[0]?.id as string | undefined) ?? "";
      },
      (id) => id !== "",
    );
    assert.deepEqual(await keyOf(startedId), { queued: "acme", weight: 1, marked: "acme" });
    await h.client.terminateWorkflow(startedId, "test");
    await h.client.restartWorkflow(startedId);
    assert.deepEqual(await keyOf(startedId), { queued: "acme", weight: 1, marked: "acme" }, "restarted");
  });

  it("a run restarted with its own workflow's key has it marked, for the claims' SQL as well as the queue rows", async () => {
    await h.client.registerWorkflowDef({ ...flowOf("restart_fair_own", [work]), fairnessKey: "${workflow.input.tenant}" });
    const runId = await h.client.startWorkflow("restart_fair_own", { tenant: "own" });
    assert.deepEqual(await keyOf(runId), { queued: "own", weight: 1, marked: "own" });
    await h.client.terminateWorkflow(runId, "test");
    await h.client.restartWorkflow(runId);
    assert.deepEqual(await keyOf(runId), { queued: "own", weight: 1, marked: "own" }, "restarted: marked for the claims' SQL as well");
  });
});
