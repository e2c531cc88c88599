// A run an event handler's start_workflow action starts for an EVENT task's
// event takes the fairness key and weight of the run whose EVENT task
// published it, unless its own workflow names a key (that wins), as a
// SUB_WORKFLOW child or a START_WORKFLOW run does; it keeps the key when
// restarted. An event a caller published gives none. Before, every such run
// was keyless: a keyed run's events queued their handlers' runs' tasks as
// the keyless lane's. Read from the queue rows and the runs' marks, on a
// real server and PostgreSQL.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

const TYPE = "event_fair";
let h: Harness;
let db: pg.Client;

const work = { name: TYPE, taskReferenceName: "work", type: "SIMPLE" };

before(async () => {
  h = await startHarness();
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
  await h.client.registerTaskDefs([{ name: TYPE, retryCount: 0, responseTimeoutSeconds: 3600 }]);
  await h.client.registerWorkflowDef(flowOf("event_fair_plain", [work]));
  await h.client.registerWorkflowDef({ ...flowOf("event_fair_own", [work]), fairnessKey: "${workflow.input.tenant}" });
  const publish = { name: "publish", taskReferenceName: "publish", type: "EVENT", sink: "fair:published" };
  await h.client.registerWorkflowDef({
    ...flowOf("event_fair_keyed", [publish]),
    fairnessKey: "${workflow.input.tenant}",
    fairnessWeights: { big: 2 },
  });
  await h.client.registerWorkflowDef(flowOf("event_fair_unkeyed", [publish]));
  const start = (name: string, input: object) => ({
    action: "start_workflow",
    start_workflow: { name, correlationId: "${workflowInstanceId}", input },
  });
  await h.client.registerEventHandler({
    name: "event_fair_starts",
    event: "fair:published",
    actions: [start("event_fair_plain", {}), start("event_fair_own", { tenant: "own" })],
    active: true,
  });
});
after(async () => {
  await db.end();
  await h.close();
});

/** The queued task's key and weight, and the key marked, of the run of `name` the handler started for `correlationId`. */
async function keyOf(name: string, correlationId: string): Promise<{ runId: string; queued: string; weight: number; marked: string | null }> {
  await h.settle();
  const { rows } = await eventually(
    () =>
      db.query(
        `SELECT r.id, q.fair_key, q.fair_weight, r.extra->>'fairKey' AS marked FROM baton.runs r JOIN baton.queue q ON q.run_id = r.id
         WHERE r.name = $1 AND r.correlation_id = $2`,
        [name, correlationId],
      ),
    (r) => r.rows.length === 1,
  );
  return { runId: rows[0].id, queued: rows[0].fair_key, weight: rows[0].fair_weight, marked: rows[0].marked };
}

describe("runs event handlers start for an EVENT task's event", () => {
  it("take the publishing run's key and weight; a workflow's own key wins; a restart keeps them", async () => {
    const publisher = await h.client.startWorkflow("event_fair_keyed", { tenant: "big" });
    const plain = await keyOf("event_fair_plain", publisher);
    assert.deepEqual({ ...plain, runId: "" }, { runId: "", queued: "big", weight: 2, marked: "big" }, "the publishing run's key and weight");
    const own = await keyOf("event_fair_own", publisher);
    assert.deepEqual({ ...own, runId: "" }, { runId: "", queued: "own", weight: 1, marked: "own" }, "its own workflow's key wins");

    await h.client.terminateWorkflow(plain.runId, "test");
    await h.client.restartWorkflow(plain.runId);
    assert.deepEqual(await keyOf("event_fair_plain", publisher), plain, "restarted: the key kept");
  });

  it("an unkeyed run's event, or a caller's, gives the runs it starts no key", async () => {
    const publisher = await h.client.startWorkflow("event_fair_unkeyed", {});
    assert.equal((await keyOf("event_fair_plain", publisher)).queued, "");
    await h.client.publishEvent("fair:published", { workflowInstanceId: "by-a-caller" });
    assert.deepEqual(
      { ...(await keyOf("event_fair_plain", "by-a-caller")), runId: "" },
      { runId: "", queued: "", weight: 1, marked: null },
      "a caller's event: no run published it",
    );
  });
});
