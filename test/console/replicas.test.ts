// The console over two replicas on one database: the workers list shows the
// workers connected to either replica (with the replica they are on), and a
// viewer waiting on one replica is woken by runs another replica moves.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { WorkflowStatus } from "@baton/protocol";
import { createLogger, startServer } from "@baton/server";
import { eventually } from "../support/harness.js";
import { startTwoReplicas, type TwoReplicas } from "../support/replicas.js";
import { flowOf } from "../support/flows.js";

let replicas: TwoReplicas;
let ca: BatonClient;
let cb: BatonClient;
let databaseUrl: string;

const IDLE = flowOf("replicas_idle", [{ name: "replicas_step", taskReferenceName: "step", type: "SIMPLE" }]);

before(async () => {
  replicas = await startTwoReplicas();
  ({ ca, cb, databaseUrl } = replicas);
  await ca.registerWorkflowDef(IDLE);
});

after(() => replicas.close());

describe("the console over two replicas", () => {
  it("lists the workers connected to either replica, with the replica each is on, and drops them when they leave", async () => {
    const polling = cb.tasks.poll({ taskType: "replicas_only_on_b", workerId: "worker-on-b", count: 1, waitMs: 20_000n });
    // A learns of B's workers from B's heartbeat.
    const seen = await eventually(
      () => ca.tasks.listWorkers({ taskType: "replicas_only_on_b" }),
      (r) => r.workers.length > 0,
      15_000,
    );
    assert.deepEqual(
      seen.workers.map((w) => [w.workerId, w.taskTypes, w.kind, Number(w.freeSlots)]),
      [["worker-on-b", ["replicas_only_on_b"], "poll", 1]],
    );
    const onB = seen.workers[0]!.replica;
    const own = (await cb.tasks.listWorkers({ taskType: "replicas_only_on_b" })).workers;
    assert.deepEqual(
      own.map((w) => [w.workerId, w.replica]),
      [["worker-on-b", onB]],
      "both replicas name the same replica",
    );
    const local = ca.tasks.poll({ taskType: "replicas_only_on_b", workerId: "worker-on-a", count: 1, waitMs: 20_000n });
    const both = await eventually(
      () => ca.tasks.listWorkers({ taskType: "replicas_only_on_b" }),
      (r) => r.workers.length === 2,
      15_000,
    );
    const replicaOf = new Map(both.workers.map((w) => [w.workerId, w.replica]));
    assert.notEqual(replicaOf.get("worker-on-a"), replicaOf.get("worker-on-b"));

    // Tasks for them: the polls end with them, and on the next beats no free slots are left.
    await cb.registerWorkflowDef({ ...IDLE, name: "replicas_feed", tasks: [{ name: "replicas_only_on_b", taskReferenceName: "t", type: "SIMPLE" }] });
    await Promise.all([ca.startWorkflow("replicas_feed"), ca.startWorkflow("replicas_feed")]);
    // A long poll answers with the first tasks it gets: one each here.
    const [fromB, fromA] = await Promise.all([polling, local]);
    assert.deepEqual([fromB.tasks.length, fromA.tasks.length], [1, 1]);
    const drained = await eventually(
      () => ca.tasks.listWorkers({ taskType: "replicas_only_on_b" }),
      (r) => r.workers.every((w) => Number(w.freeSlots) === 0),
      15_000,
    );
    assert.equal(drained.workers.find((w) => w.workerId === "worker-on-b")?.tasksDelivered, BigInt(fromB.tasks.length));
  });

  it("wakes a viewer waiting on one replica when another replica moves a run", async () => {
    // The runs page's watch, on A; runs start on B until A's viewer is known to B and woken.
    const before = Date.now();
    const watching = ca.workflows.watchWorkflows({ waitMs: 60_000n });
    let woken = false;
    void watching.then(() => (woken = true));
    const startedOnB: string[] = [];
    while (!woken && Date.now() - before < 30_000) {
      startedOnB.push(await cb.startWorkflow("replicas_idle"));
      await new Promise((r) => setTimeout(r, 300));
    }
    assert.equal((await watching).changed, true, "the watch was woken, not run out");
    assert.ok(startedOnB.length > 0);

    // A run's own watch, on A, answers with the run as B changed it.
    const runId = startedOnB[0]!;
    const now = await ca.workflows.watchWorkflow({ workflowId: runId, knownState: "", waitMs: 0n });
    const moved = ca.workflows.watchWorkflow({ workflowId: runId, knownState: now.state, waitMs: 60_000n });
    await cb.pauseWorkflow(runId);
    const answer = await moved;
    assert.equal(answer.changed, true);
    assert.equal(answer.workflow?.status, WorkflowStatus.PAUSED);
  });

  it("drops a replica's workers once it stops", async () => {
    const c = await startServer({ databaseUrl, port: 0, logger: createLogger(process.env["BATON_LOG_LEVEL"] ?? "silent") });
    const cc = new BatonClient({ address: c.address });
    const polling = cc.tasks.poll({ taskType: "replicas_on_c", workerId: "worker-on-c", count: 1, waitMs: 20_000n }).catch(() => undefined);
    await eventually(
      () => ca.tasks.listWorkers({ taskType: "replicas_on_c" }),
      (r) => r.workers.length === 1,
      15_000,
    );
    cc.close();
    await polling;
    await c.close();
    const gone = await eventually(
      () => ca.tasks.listWorkers({ taskType: "replicas_on_c" }),
      (r) => r.workers.length === 0,
      15_000,
    );
    assert.deepEqual(gone.workers, []);
  });
});
