// /metrics after real runs: runs started and ended, runs in flight, queue wait
// and execution histograms (times from the test's clock), queue depth, lease
// expiries, database errors and gRPC calls by method and code.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { TaskStatus, type LeasedTask } from "@baton/protocol";
import { ManualClock, createLogger, startServer, type BatonServer } from "@baton/server";
import { freshDatabase, stopCluster } from "../support/database.js";
import { flowOf } from "../support/flows.js";

let server: BatonServer;
let client: BatonClient;
const clock = new ManualClock();

async function advance(ms: number): Promise<void> {
  clock.advance(ms);
  await server.settle();
  await server.settle();
}

async function get(path: string): Promise<{ status: number; type: string; body: string }> {
  const response = await fetch(`http://${server.metricsAddress}${path}`);
  return { status: response.status, type: response.headers.get("content-type") ?? "", body: await response.text() };
}

/** The value of one series line, e.g. value(text, 'baton_runs_ended_total{status="COMPLETED"}'). */
function value(text: string, series: string): number | undefined {
  for (const line of text.split("\n")) {
    if (line.startsWith(series + " ")) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

async function poll(taskType: string, waitMs = 3000): Promise<LeasedTask> {
  const task = (await client.tasks.poll({ taskType, workerId: "obs", count: 1, waitMs: BigInt(waitMs) })).tasks[0];
  assert.ok(task, `a ${taskType} task`);
  return task;
}

async function complete(task: LeasedTask): Promise<void> {
  await client.tasks.updateTask({
    result: { taskId: task.taskId, leaseToken: task.leaseToken, status: TaskStatus.COMPLETED, outputJson: "{}", workerId: "obs" },
  });
}

const flow = (name: string, taskName: string, type = "SIMPLE") => flowOf(name, [{ name: taskName, taskReferenceName: "t", type }]);

before(async () => {
  server = await startServer({
    databaseUrl: await freshDatabase(),
    port: 0,
    clock,
    logger: createLogger(process.env["BATON_LOG_LEVEL"] ?? "silent"),
    metrics: { port: 0 },
  });
  client = new BatonClient({ address: server.address, token: "", tls: false });
  await client.registerTaskDefs([
    { name: "obs_work", retryCount: 0, responseTimeoutSeconds: 60 },
    { name: "obs_lease", retryCount: 0, responseTimeoutSeconds: 1 },
  ]);
  await client.registerWorkflowDef(flow("obs_flow", "obs_work"));
  await client.registerWorkflowDef(flow("obs_lease_flow", "obs_lease"));
  await client.registerWorkflowDef(flow("obs_noop_flow", "noop", "NOOP"));
});
after(async () => {
  client.close();
  await server.close();
  await stopCluster();
});

describe("/metrics", () => {
  it("is served on its own loopback port, with /healthz", async () => {
    assert.match(server.metricsAddress ?? "", /^127\.0\.0\.1:\d+$/);
    const health = await get("/healthz");
    assert.equal(health.status, 200);
    assert.equal((await get("/nope")).status, 404);
  });

  it("exposes the named series after runs complete, fail and wait", async () => {
    // A run whose task waits 1.5 s in the queue and runs 2.5 s (test clock).
    const first = await client.startWorkflow("obs_flow", {});
    await advance(1500);
    const task = await poll("obs_work");
    await advance(2500);
    await complete(task);
    assert.equal((await client.getWorkflow(first)).status, "COMPLETED");

    // A worker already waiting gets the next one at once (queue wait 0).
    const waiting = poll("obs_work");
    await new Promise((r) => setTimeout(r, 100));
    const second = await client.startWorkflow("obs_flow", {});
    await complete(await waiting);
    assert.equal((await client.getWorkflow(second)).status, "COMPLETED");

    // A run that ends in the event that starts it (system tasks only).
    assert.equal((await client.getWorkflow(await client.startWorkflow("obs_noop_flow", {}))).status, "COMPLETED");

    // A worker that goes silent: its lease expires, the task times out, the run fails.
    const lost = await client.startWorkflow("obs_lease_flow", {});
    await poll("obs_lease");
    await advance(2000);
    const failed = await client.getWorkflow(lost);
    assert.notEqual(failed.status, "RUNNING");

    // One left waiting in the queue, one in flight.
    const queued = await client.startWorkflow("obs_flow", {});

    // A request the database refuses (a task id that is not a uuid).
    // Malformed ids are refused before they reach the database now, so make a
    // query fail on the server's own connections to see database errors counted.
    await server.store.tx((tx) => tx.query("SELECT 'not-a-uuid'::uuid")).catch(() => undefined);

    const { status, type, body } = await get("/metrics");
    assert.equal(status, 200);
    assert.match(type, /text\/plain/);
    assert.equal(value(body, "baton_runs_started_total"), 5);
    assert.equal(value(body, 'baton_runs_ended_total{status="COMPLETED"}'), 3);
    assert.equal(value(body, `baton_runs_ended_total{status="${failed.status}"}`), 1);
    assert.equal(value(body, 'baton_runs{status="RUNNING"}'), 1);
    assert.equal(value(body, 'baton_runs{status="PAUSED"}'), 0);
    assert.equal(value(body, 'baton_task_queue_wait_seconds_count{task_type="obs_work"}'), 2);
    assert.equal(value(body, 'baton_task_queue_wait_seconds_sum{task_type="obs_work"}'), 1.5);
    assert.equal(value(body, 'baton_task_queue_wait_seconds_bucket{le="1",task_type="obs_work"}'), 1);
    assert.equal(value(body, 'baton_task_queue_wait_seconds_count{task_type="obs_lease"}'), 1);
    assert.equal(value(body, 'baton_task_execution_seconds_count{task_type="obs_work",status="COMPLETED"}'), 2);
    assert.equal(value(body, 'baton_task_execution_seconds_sum{task_type="obs_work",status="COMPLETED"}'), 2.5);
    assert.equal(value(body, 'baton_task_execution_seconds_count{task_type="obs_lease",status="TIMED_OUT"}'), 1);
    assert.equal(value(body, 'baton_task_lease_expiries_total{task_type="obs_lease"}'), 1);
    assert.equal(value(body, 'baton_task_queue_depth{task_type="obs_work",state="ready"}'), 1);
    assert.equal(value(body, 'baton_task_queue_depth{task_type="obs_work",state="in_progress"}'), 0);
    assert.ok((value(body, 'baton_db_errors_total{code="22P02"}') ?? 0) >= 1, "the refused query is counted");
    assert.equal(value(body, 'baton_grpc_requests_total{method="baton.v1.WorkflowService/StartWorkflow",code="OK"}'), 5);
    assert.ok((value(body, 'baton_grpc_requests_total{method="baton.v1.TaskService/Poll",code="OK"}') ?? 0) >= 3);
    assert.ok((value(body, 'baton_grpc_request_duration_seconds_count{method="baton.v1.TaskService/UpdateTask"}') ?? 0) >= 2);
    assert.match(body, /^process_cpu_user_seconds_total /m);
    await client.terminateWorkflow(queued);
  });
});
