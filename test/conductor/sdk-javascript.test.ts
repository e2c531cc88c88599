// Conductor's own JavaScript SDK (@io-orkes/conductor-javascript, unchanged,
// from npm) against Baton's REST API: its TaskManager runs the tasks of a
// Conductor fixture flow to completion (a retry after a failure, a long task
// that comes back later, a task kept alive by heartbeats, a terminal error),
// and its workflow client registers, starts, waits, reads, searches and
// operates runs. With keys required, through its own key id/secret login.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  createConductorClient,
  MetadataClient,
  NonRetryableException,
  TaskManager,
  WorkflowExecutor,
  type ConductorWorker,
} from "@io-orkes/conductor-javascript";
import { openKeyRegistry } from "@baton/server";
import { eventually } from "../support/harness.js";
import { conductorFixture, startRestServer, type RestServer } from "./support.js";

let s: RestServer;
let manager: TaskManager;
let workflows: WorkflowExecutor;
/** Runs whose first attempt at t1 failed terminally (it fails so once per run). Behaviour is keyed by the run's param1. */
const terminalOnce = new Set<string>();

const TASK_DEFS = [
  { name: "integration_task_1", retryCount: 1, retryLogic: "FIXED", retryDelaySeconds: 0, timeoutSeconds: 120, responseTimeoutSeconds: 60 },
  { name: "integration_task_2", retryCount: 0, timeoutSeconds: 120, responseTimeoutSeconds: 60 },
  // Lease of 5 s: the 7 s task of run "long" lives only through its heartbeats (sent every 4 s, 80% of the lease).
  { name: "integration_task_3", retryCount: 0, timeoutSeconds: 120, responseTimeoutSeconds: 5, timeoutPolicy: "TIME_OUT_WF" },
  // No worker polls this one: its runs stay RUNNING for the operator's actions.
  { name: "integration_task_4", retryCount: 0, timeoutSeconds: 120, responseTimeoutSeconds: 60 },
];
const IDLE_FLOW = { name: "sdk_idle_flow", version: 1, schemaVersion: 2, tasks: [{ name: "integration_task_4", taskReferenceName: "t4", type: "SIMPLE" }] };

const workers: ConductorWorker[] = [
  {
    taskDefName: "integration_task_1",
    execute: async (task) => {
      if (task.inputData?.["p1"] === "terminal" && !terminalOnce.has(task.workflowInstanceId!)) {
        terminalOnce.add(task.workflowInstanceId!);
        throw new NonRetryableException("this input can never work");
      }
      if (task.inputData?.["p1"] === "long" && task.retryCount === 0) throw new Error("flaky the first time");
      return { status: "COMPLETED", outputData: { op: `t1 of ${task.inputData?.["p1"]}` } };
    },
  },
  {
    taskDefName: "integration_task_2",
    execute: async (task) => {
      if (task.inputData?.["tp1"] === "long" && (task.pollCount ?? 0) <= 1) return { status: "IN_PROGRESS", callbackAfterSeconds: 1, outputData: { waiting: true } };
      return { status: "COMPLETED", outputData: { polls: task.pollCount } };
    },
  },
  {
    taskDefName: "integration_task_3",
    leaseExtendEnabled: true,
    execute: async (task) => {
      if (task.inputData?.["tp1"] === "long") await new Promise((r) => setTimeout(r, 7000));
      return { status: "COMPLETED", outputData: { done: true } };
    },
  },
];

before(async () => {
  s = await startRestServer({ auth: { mode: "required", cacheMs: 0 } });
  const keys = await openKeyRegistry(s.databaseUrl);
  const { key } = await keys.registry.create({ role: "admin", name: "sdk" });
  await keys.close();
  const [, keyId, keySecret] = /^bk_([a-z0-9]+)_(.+)$/.exec(key)!;
  delete process.env["CONDUCTOR_SERVER_URL"];
  process.env["CONDUCTOR_AUTH_KEY"] = keyId!;
  process.env["CONDUCTOR_AUTH_SECRET"] = keySecret!;
  // Baton's token is the key itself and does not expire: no background refresh (its timer would hold the process open).
  const client = await createConductorClient({ serverUrl: `${s.base}/api`, keyId: keyId!, keySecret: keySecret!, refreshTokenInterval: 0 });
  const metadata = new MetadataClient(client);
  await metadata.registerTasks(TASK_DEFS as never);
  workflows = new WorkflowExecutor(client);
  await workflows.registerWorkflow(true, conductorFixture("simple_workflow_3_integration_test.json") as never);
  await workflows.registerWorkflow(false, IDLE_FLOW as never);
  manager = new TaskManager(client, workers, { options: { pollInterval: 10, concurrency: 4, batchPollingTimeout: 1000, workerID: "js-sdk" } });
  manager.startPolling();
});
after(async () => {
  await manager.stopPolling();
  // Long polls still out come back empty (every run has ended) before the server goes.
  await new Promise((r) => setTimeout(r, 1500));
  await s.close();
});

const finished = (id: string) =>
  eventually(
    () => workflows.getWorkflow(id, true),
    (w) => w.status !== "RUNNING",
    30_000,
  );

test("a fixture flow runs to completion: a retry after a failure, a task that comes back later, a task kept alive by heartbeats", async () => {
  const id = await workflows.startWorkflow({ name: "integration_test_wf3", version: 1, correlationId: "c-long", input: { param1: "long", param2: "b" } });
  const run = await finished(id!);
  assert.equal(run.status, "COMPLETED", JSON.stringify(run.tasks?.map((t) => [t.referenceTaskName, t.status, t.reasonForIncompletion])));
  assert.deepEqual(run.tasks!.map((t) => [t.referenceTaskName, t.status]), [["t1", "FAILED"], ["t1", "COMPLETED"], ["t2", "COMPLETED"], ["t3", "COMPLETED"]]);
  assert.ok(Number(run.tasks![2]!.outputData!["polls"]) >= 2, "t2 was handed out again after its callback");
  assert.equal(run.tasks![3]!.retryCount, 0, "the long task was not timed out and retried");
  assert.equal(run.tasks![1]!.workerId, "js-sdk");
});

test("a terminal error fails the run at once; retry runs it again to completion", async () => {
  const id = (await workflows.startWorkflow({ name: "integration_test_wf3", version: 1, correlationId: "c-terminal", input: { param1: "terminal" } }))!;
  const failed = await finished(id);
  assert.equal(failed.status, "FAILED");
  assert.deepEqual(failed.tasks!.map((t) => t.status), ["FAILED_WITH_TERMINAL_ERROR"]);
  assert.match(failed.tasks![0]!.reasonForIncompletion!, /never work/);
  await workflows.retry(id, false);
  assert.equal((await finished(id)).status, "COMPLETED");
});

test("start-and-wait, search, pause/resume, terminate and rerun through the workflow client", async () => {
  const done = await workflows.executeWorkflow({ name: "integration_test_wf3", version: 1, correlationId: "sync", input: { param1: "s" } }, "integration_test_wf3", 1, "req-1", "", 10);
  assert.equal(done.status, "COMPLETED");
  const id = done.workflowId!;
  const found = await workflows.search(0, 10, `workflowType = 'integration_test_wf3' AND status IN (COMPLETED) AND correlationId = 'sync'`, "*");
  assert.deepEqual(found!.results!.map((w) => w.workflowId), [id]);
  const t2 = (await workflows.getWorkflow(id, true)).tasks!.find((t) => t.referenceTaskName === "t2")!;
  await workflows.reRun(id, { reRunFromTaskId: t2.taskId!, taskInput: { tp1: "again" } });
  const rerun = await finished(id);
  assert.equal(rerun.status, "COMPLETED");
  assert.equal(rerun.tasks!.find((t) => t.referenceTaskName === "t2")!.inputData!["tp1"], "again");

  const paused = (await workflows.startWorkflow({ name: "sdk_idle_flow", version: 1, correlationId: "pause", input: {} }))!;
  await workflows.pause(paused);
  assert.equal((await workflows.getWorkflowStatus(paused, false, false)).status, "PAUSED");
  await workflows.resume(paused);
  assert.equal((await workflows.getWorkflow(paused, false)).status, "RUNNING");
  await workflows.terminate(paused, "stopped by the test");
  const ended = await workflows.getWorkflow(paused, true);
  assert.equal(ended.status, "TERMINATED");
  assert.equal(ended.reasonForIncompletion, "stopped by the test");
});
