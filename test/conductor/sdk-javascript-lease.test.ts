// Conductor's own JavaScript SDK keeps a long task alive with heartbeats
// (leaseExtendEnabled: an IN_PROGRESS update with extendLease every 80% of
// the task's responseTimeoutSeconds), against a server whose clock the test
// moves: the task outlives the lease it was handed with only because the SDK
// extended it. The SDK's heartbeats run on real time; the lease on the
// server's clock, so how busy the machine is does not matter.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { createConductorClient, MetadataClient, TaskManager, WorkflowExecutor, type Task } from "@io-orkes/conductor-javascript";
import { ManualClock } from "@baton/server";
import pg from "pg";
import { eventually } from "../support/harness.js";
import { startRestServer, type RestServer } from "./support.js";
import { flowOf } from "../support/flows.js";

const LEASE_S = 5;
const clock = new ManualClock();
let s: RestServer;
let db: pg.Client;
let manager: TaskManager;
let workflows: WorkflowExecutor;

/** The task the worker function holds, and what lets it finish. */
let handed: (task: Task) => void;
const held = new Promise<Task>((resolve) => (handed = resolve));
let release: () => void;
const released = new Promise<void>((resolve) => (release = resolve));

before(async () => {
  s = await startRestServer({ clock });
  db = new pg.Client({ connectionString: s.databaseUrl });
  await db.connect();
  const client = await createConductorClient({ serverUrl: `${s.base}/api`, refreshTokenInterval: 0 });
  await new MetadataClient(client).registerTasks([
    { name: "sdk_lease_task", retryCount: 0, timeoutSeconds: 120, responseTimeoutSeconds: LEASE_S, timeoutPolicy: "TIME_OUT_WF" },
  ] as never);
  workflows = new WorkflowExecutor(client);
  await workflows.registerWorkflow(true, flowOf("sdk_lease_flow", [{ name: "sdk_lease_task", taskReferenceName: "long", type: "SIMPLE" }]) as never);
  const worker = {
    taskDefName: "sdk_lease_task",
    leaseExtendEnabled: true,
    execute: async (task: Task) => {
      handed(task);
      await released;
      return { status: "COMPLETED" as const, outputData: { done: true } };
    },
  };
  manager = new TaskManager(client, [worker], { options: { pollInterval: 10, concurrency: 1, batchPollingTimeout: 1000, workerID: "js-sdk" } });
  manager.startPolling();
});
after(async () => {
  release();
  await manager.stopPolling();
  // Long polls still out come back empty before the server goes.
  await new Promise((r) => setTimeout(r, 1500));
  await db.end();
  await s.close();
});

/** When the task's lease runs out, on the server's clock. */
const leaseEnd = async (taskId: string) =>
  Number((await db.query<{ lease_expires_at: string }>("SELECT lease_expires_at FROM baton.tasks WHERE id = $1", [taskId])).rows[0]!.lease_expires_at);

async function advance(ms: number): Promise<void> {
  clock.advance(ms);
  await s.server.settle();
  await s.server.settle();
}

test("a task the SDK heartbeats outlives the lease it was handed with, and completes", async () => {
  const id = (await workflows.startWorkflow({ name: "sdk_lease_flow", version: 1, input: {} }))!;
  const task = await held;
  assert.equal(task.workflowInstanceId, id);
  const handedUntil = await leaseEnd(task.taskId!);
  assert.equal(handedUntil, clock.now() + LEASE_S * 1000);

  // Most of the lease goes by; a heartbeat then extends it from there (the
  // SDK's first comes 4 s after it took the task; if that was before this
  // move, the next one, 4 s later, is).
  await advance(4_000);
  const extendedUntil = await eventually(
    () => leaseEnd(task.taskId!),
    (until) => until > handedUntil,
    30_000,
  );
  assert.equal(extendedUntil, clock.now() + LEASE_S * 1000);

  // Past the first lease: the task is still the worker's.
  await advance(3_000);
  assert.ok(clock.now() > handedUntil);
  let run = await workflows.getWorkflow(id, true);
  assert.equal(run.status, "RUNNING");
  assert.deepEqual(
    run.tasks!.map((t) => [t.referenceTaskName, t.status]),
    [["long", "IN_PROGRESS"]],
  );

  release();
  run = await eventually(
    () => workflows.getWorkflow(id, true),
    (w) => w.status !== "RUNNING",
    30_000,
  );
  assert.equal(run.status, "COMPLETED");
  assert.deepEqual(
    run.tasks!.map((t) => [t.referenceTaskName, t.status, t.retryCount]),
    [["long", "COMPLETED", 0]],
  );
});
