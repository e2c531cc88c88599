// Conductor's own JavaScript SDK (@io-orkes/conductor-javascript, unchanged,
// from npm) against Baton's REST API: its TaskManager runs the tasks of a
// Conductor fixture flow to completion (a retry after a failure, a long task
// that comes back later, a terminal error), and its workflow client
// registers, starts, waits, reads, searches and operates runs. With keys
// required, through its own key id/secret login. Its heartbeats are tested
// with the server's clock in sdk-javascript-lease.test.ts.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import {
  Consistency,
  createConductorClient,
  MetadataClient,
  NonRetryableException,
  ReturnStrategy,
  TaskManager,
  WorkflowExecutor,
  type ConductorWorker,
  type Task,
} from "@io-orkes/conductor-javascript";
import { fixture } from "../conformance/support.js";
import { eventually } from "../support/harness.js";
import { assertHandedAsConductor, startKeyedRestServer, type KeyedRestServer } from "./support.js";
import { flowOf } from "../support/flows.js";

let s: KeyedRestServer;
let manager: TaskManager;
let workflows: WorkflowExecutor;
let metadata: MetadataClient;
/** Every task as the SDK handed it to a worker function, in order. */
const polled: Task[] = [];
/** Runs whose first attempt at t1 failed terminally (it fails so once per run). Behaviour is keyed by the run's param1. */
const terminalOnce = new Set<string>();

const TASK_DEFS = [
  { name: "integration_task_1", retryCount: 1, retryLogic: "FIXED", retryDelaySeconds: 0, timeoutSeconds: 120, responseTimeoutSeconds: 60 },
  { name: "integration_task_2", retryCount: 0, timeoutSeconds: 120, responseTimeoutSeconds: 60 },
  { name: "integration_task_3", retryCount: 0, timeoutSeconds: 120, responseTimeoutSeconds: 5, timeoutPolicy: "TIME_OUT_WF" },
  // No worker polls this one: its runs stay RUNNING for the operator's actions.
  { name: "integration_task_4", retryCount: 0, timeoutSeconds: 120, responseTimeoutSeconds: 60 },
];
const IDLE_FLOW = flowOf("sdk_idle_flow", [{ name: "integration_task_4", taskReferenceName: "t4", type: "SIMPLE" }]);

const workers: ConductorWorker[] = [
  {
    taskDefName: "integration_task_1",
    execute: async (task) => {
      polled.push(task);
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
      polled.push(task);
      if (task.inputData?.["tp1"] === "long" && (task.pollCount ?? 0) <= 1)
        return { status: "IN_PROGRESS", callbackAfterSeconds: 1, outputData: { waiting: true } };
      return { status: "COMPLETED", outputData: { polls: task.pollCount } };
    },
  },
  {
    taskDefName: "integration_task_3",
    execute: async () => ({ status: "COMPLETED", outputData: { done: true } }),
  },
];

before(async () => {
  s = await startKeyedRestServer("sdk");
  const { keyId, keySecret } = s;
  delete process.env["CONDUCTOR_SERVER_URL"];
  process.env["CONDUCTOR_AUTH_KEY"] = keyId;
  process.env["CONDUCTOR_AUTH_SECRET"] = keySecret;
  // Baton's token is the key itself and does not expire: no background refresh (its timer would hold the process open).
  const client = await createConductorClient({ serverUrl: `${s.base}/api`, keyId, keySecret, refreshTokenInterval: 0 });
  metadata = new MetadataClient(client);
  await metadata.registerTasks(TASK_DEFS as never);
  workflows = new WorkflowExecutor(client);
  await workflows.registerWorkflow(true, fixture("simple_workflow_3_integration_test.json") as never);
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

test("a fixture flow runs to completion: a retry after a failure, a task that comes back later", async () => {
  const id = await workflows.startWorkflow({
    name: "integration_test_wf3",
    version: 1,
    correlationId: "c-long",
    priority: 7,
    input: { param1: "long", param2: "b" },
  });
  const run = await finished(id!);
  assert.equal(run.status, "COMPLETED", JSON.stringify(run.tasks?.map((t) => [t.referenceTaskName, t.status, t.reasonForIncompletion])));
  assert.deepEqual(
    run.tasks!.map((t) => [t.referenceTaskName, t.status]),
    [
      ["t1", "FAILED"],
      ["t1", "COMPLETED"],
      ["t2", "COMPLETED"],
      ["t3", "COMPLETED"],
    ],
  );
  assert.ok(Number(run.tasks![2]!.outputData!["polls"]) >= 2, "t2 was handed out again after its callback");
  assert.equal(run.tasks![1]!.workerId, "js-sdk");

  // What the worker was handed carries the run's facts, as Conductor's polled Task does.
  for (const stored of run.tasks!.slice(0, 3)) {
    const handed = polled.filter((t) => t.taskId === stored.taskId).at(-1);
    assert.ok(handed, `task ${stored.referenceTaskName} was handed to a worker function`);
    assertHandedAsConductor(handed, stored, { workflowId: id!, correlationId: "c-long" });
    assert.equal(handed.referenceTaskName, stored.referenceTaskName);
    assert.equal(handed.taskDefName, stored.taskDefName);
    assert.equal(handed.taskType, stored.taskType);
    assert.deepEqual(handed.inputData, stored.inputData);
  }
  // t2 came back after its callback: the second hand-out says so.
  const t2 = polled.filter((t) => t.workflowInstanceId === id && t.referenceTaskName === "t2");
  assert.ok(
    t2.length >= 2 && t2.at(-1)!.pollCount! >= 2 && t2.at(-1)!.callbackAfterSeconds === 1,
    JSON.stringify(t2.map((t) => [t.pollCount, t.callbackAfterSeconds])),
  );
});

test("a terminal error fails the run at once; retry runs it again to completion", async () => {
  const id = (await workflows.startWorkflow({ name: "integration_test_wf3", version: 1, correlationId: "c-terminal", input: { param1: "terminal" } }))!;
  const failed = await finished(id);
  assert.equal(failed.status, "FAILED");
  assert.deepEqual(
    failed.tasks!.map((t) => t.status),
    ["FAILED_WITH_TERMINAL_ERROR"],
  );
  assert.match(failed.tasks![0]!.reasonForIncompletion!, /never work/);
  await workflows.retry(id, false);
  assert.equal((await finished(id)).status, "COMPLETED");
});

test("start-and-wait, search, pause/resume, terminate and rerun through the workflow client", async () => {
  const done = await workflows.executeWorkflow(
    { name: "integration_test_wf3", version: 1, correlationId: "sync", input: { param1: "s" } },
    "integration_test_wf3",
    1,
    "req-1",
    "",
    10,
    Consistency.SYNCHRONOUS,
    ReturnStrategy.TARGET_WORKFLOW,
  );
  assert.equal(done.status, "COMPLETED");
  const id = done.workflowId!;
  const found = await workflows.search(0, 10, `workflowType = 'integration_test_wf3' AND status IN (COMPLETED) AND correlationId = 'sync'`, "*");
  assert.deepEqual(
    found!.results!.map((w) => w.workflowId),
    [id],
  );
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

test("definitions are removed as Conductor removes them: runs already started go on", async () => {
  await metadata.registerTask({ name: "sdk_removed_task", retryCount: 0, timeoutSeconds: 60, responseTimeoutSeconds: 30 } as never);
  const flow = (version: number) => ({
    name: "sdk_removed_flow",
    version,
    schemaVersion: 2,
    tasks: [{ name: "sdk_removed_task", taskReferenceName: "r", type: "SIMPLE" }],
  });
  await workflows.registerWorkflow(true, flow(1) as never);
  await workflows.registerWorkflow(true, flow(2) as never);
  const id = (await workflows.startWorkflow({ name: "sdk_removed_flow", version: 2, input: {} }))!;

  await metadata.unregisterWorkflow("sdk_removed_flow", 2);
  await metadata.unregisterTask("sdk_removed_task");
  // The latest version is the highest one left; the removed ones are gone.
  assert.equal((await metadata.getWorkflowDef("sdk_removed_flow")).version, 1);
  await assert.rejects(metadata.getWorkflowDef("sdk_removed_flow", 2), /no workflow definition sdk_removed_flow version 2/);
  await assert.rejects(metadata.getTask("sdk_removed_task"), /no task definition sdk_removed_task/);
  await assert.rejects(metadata.unregisterWorkflow("sdk_removed_flow", 2), /no workflow definition sdk_removed_flow version 2/);
  await assert.rejects(metadata.unregisterTask("sdk_removed_task"), /no task definition sdk_removed_task/);
  await assert.rejects(workflows.startWorkflow({ name: "sdk_removed_flow", version: 2, input: {} }), /sdk_removed_flow version 2/);

  // The run started on version 2 is still there and can be operated.
  const run = await workflows.getWorkflow(id, true);
  assert.equal(run.status, "RUNNING");
  assert.equal(run.workflowVersion, 2);
  await workflows.terminate(id, "done with it");
  assert.equal((await workflows.getWorkflow(id, false)).status, "TERMINATED");
});
