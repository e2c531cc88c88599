// Conductor's REST API, called as Conductor's SDKs call it: the worker
// endpoints on the same queue, leases and fencing as gRPC; the client
// endpoints on the same services; Conductor's answers for bad input.
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import { ManualClock } from "@baton/server";
import { flowOf, forkOfTasks } from "../support/flows.js";
import { fixture } from "../conformance/support.js";
import { call, INTEGRATION_TASK_DEFS, startRestServer, type RestServer } from "./support.js";

const clock = new ManualClock();
let s: RestServer;
let api: (method: string, route: string, body?: unknown, headers?: Record<string, string>) => ReturnType<typeof call>;

before(async () => {
  s = await startRestServer({ clock });
  api = (method, route, body, headers) => call(s.base, method, route, body, headers);
  assert.equal((await api("POST", "/api/metadata/taskdefs", INTEGRATION_TASK_DEFS)).status, 200);
  assert.equal((await api("POST", "/api/metadata/workflow", fixture("simple_workflow_1_integration_test.json"))).status, 200);
});
after(() => s.close());

/** Polls one task of `type` over REST (a long poll). */
async function pollOne(type: string, workerId = "rest-worker"): Promise<any> {
  const polled = await api("GET", `/api/tasks/poll/batch/${type}?workerid=${workerId}&count=1&timeout=5000`);
  assert.equal(polled.status, 200, polled.text);
  assert.equal(polled.json.length, 1, `no ${type} task: ${polled.text}`);
  return polled.json[0];
}

/**
 * Polls one task of `type` as `worker` and answers IN_PROGRESS, come back in
 * 1 s; then moves the clock past that second: the task is back in the queue,
 * its lease given up, and the next poll hands it out again. Returns it as
 * first polled.
 */
async function handOutAgain(type: string, worker: string): Promise<any> {
  const task = await pollOne(type, worker);
  const later = await api("POST", "/api/tasks", {
    taskId: task.taskId,
    workflowInstanceId: task.workflowInstanceId,
    status: "IN_PROGRESS",
    callbackAfterSeconds: 1,
    workerId: worker,
  });
  assert.equal(later.status, 200, later.text);
  clock.advance(1000);
  await s.server.settle();
  return task;
}

describe("metadata", () => {
  test("definitions round-trip; creating an existing version is a conflict unless overwrite", async () => {
    const def = await api("GET", "/api/metadata/workflow/integration_test_wf?version=1");
    assert.equal(def.status, 200);
    assert.equal(def.json.name, "integration_test_wf");
    assert.deepEqual(
      def.json.tasks.map((t: any) => t.taskReferenceName),
      ["t1", "t2"],
    );
    const again = await api("POST", "/api/metadata/workflow", fixture("simple_workflow_1_integration_test.json"));
    assert.equal(again.status, 409);
    assert.match(again.json.message, /already exists/);
    assert.equal((await api("POST", "/api/metadata/workflow?overwrite=true", fixture("simple_workflow_1_integration_test.json"))).status, 200);
    assert.equal((await api("PUT", "/api/metadata/workflow", [fixture("simple_workflow_3_integration_test.json")])).status, 200);
    const all = await api("GET", "/api/metadata/workflow");
    assert.deepEqual(all.json.map((d: any) => d.name).sort(), ["integration_test_wf", "integration_test_wf3"]);
    const names = await api("GET", "/api/metadata/workflow/names-and-versions");
    assert.deepEqual(
      names.json["integration_test_wf"].map((v: any) => v.version),
      [1],
    );
    const task = await api("GET", "/api/metadata/taskdefs/integration_task_1");
    assert.equal(task.json.retryCount, 1);
    assert.equal((await api("PUT", "/api/metadata/taskdefs", { ...task.json, description: "changed" })).status, 200);
    assert.equal((await api("GET", "/api/metadata/taskdefs/integration_task_1")).json.description, "changed");
    assert.equal((await api("GET", "/api/metadata/taskdefs")).json.length, INTEGRATION_TASK_DEFS.length);
    assert.equal((await api("GET", "/api/metadata/taskdefs/no_such_task")).status, 404);
  });

  test("an invalid definition is refused with its path and stores nothing", async () => {
    const bad = await api("POST", "/api/metadata/workflow", { name: "bad_flow", version: 1, tasks: [{ name: "x", type: "SIMPLE" }] });
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /tasks/);
    assert.equal((await api("GET", "/api/metadata/workflow/bad_flow")).status, 404);
  });

  test("DELETE removes a workflow version or a task definition as Conductor does; runs already started go on", async () => {
    const flow = (version: number) => ({
      name: "removed_flow",
      version,
      schemaVersion: 2,
      tasks: [{ name: "removed_task", taskReferenceName: "r", type: "SIMPLE" }],
    });
    assert.equal((await api("POST", "/api/metadata/taskdefs", [{ name: "removed_task", retryCount: 0, responseTimeoutSeconds: 30 }])).status, 200);
    for (const v of [1, 2, 3]) assert.equal((await api("POST", "/api/metadata/workflow", flow(v))).status, 200);
    const started = await api("POST", "/api/workflow/removed_flow?version=3", {});
    assert.equal(started.status, 200, started.text);

    // A version a route sends starts to is kept until the route changes.
    await s.grpc.setRoute("removed_flow", {
      weights: [
        { version: 1, weight: 50 },
        { version: 2, weight: 50 },
      ],
    });
    const routed = await api("DELETE", "/api/metadata/workflow/removed_flow/2");
    assert.equal(routed.status, 409);
    assert.match(routed.json.message, /version 2 of removed_flow is in its route/);
    assert.equal((await api("GET", "/api/metadata/workflow/removed_flow?version=2")).status, 200, "nothing changed");
    await s.grpc.setRoute("removed_flow", { weights: [{ version: 1, weight: 100 }] });

    const removed = await api("DELETE", "/api/metadata/workflow/removed_flow/3");
    assert.equal(removed.status, 200, removed.text);
    assert.equal(removed.text, "");
    assert.equal((await api("GET", "/api/metadata/workflow/removed_flow?version=3")).status, 404);
    assert.equal((await api("GET", "/api/metadata/workflow/removed_flow")).json.version, 2, "the latest is the highest version left");
    assert.deepEqual(
      (await api("GET", "/api/metadata/workflow/names-and-versions")).json["removed_flow"].map((v: any) => v.version),
      [1, 2],
    );
    const again = await api("DELETE", "/api/metadata/workflow/removed_flow/3");
    assert.equal(again.status, 404);
    assert.match(again.json.message, /no workflow definition removed_flow version 3/);
    assert.equal((await api("DELETE", "/api/metadata/workflow/removed_flow/three")).status, 400);
    const startRemoved = await api("POST", "/api/workflow/removed_flow?version=3", {});
    assert.equal(startRemoved.status, 404, startRemoved.text);

    const task = await api("DELETE", "/api/metadata/taskdefs/removed_task");
    assert.equal(task.status, 200, task.text);
    assert.equal((await api("GET", "/api/metadata/taskdefs/removed_task")).status, 404);
    const taskAgain = await api("DELETE", "/api/metadata/taskdefs/removed_task");
    assert.equal(taskAgain.status, 404);
    assert.match(taskAgain.json.message, /no task definition removed_task/);

    // The run started on version 3 still holds its definition, and its task still reaches a worker.
    const run = await api("GET", `/api/workflow/${started.text}?includeTasks=true`);
    assert.equal(run.json.status, "RUNNING");
    assert.equal(run.json.workflowVersion, 3);
    assert.equal(run.json.workflowDefinition.version, 3);
    const handed = await pollOne("removed_task");
    assert.equal(handed.workflowInstanceId, started.text);
    const done = await api("POST", "/api/tasks", { taskId: handed.taskId, workflowInstanceId: started.text, status: "COMPLETED", outputData: {} });
    assert.equal(done.status, 200, done.text);
    assert.equal((await api("GET", `/api/workflow/${started.text}`)).json.status, "COMPLETED");
  });
});

describe("workers", () => {
  test("a started run's tasks are polled, updated (text answer) and the run completes, visible over gRPC", async () => {
    const started = await api("POST", "/api/workflow/integration_test_wf?correlationId=c-1", { param1: "p1", param2: "p2" });
    assert.equal(started.status, 200);
    assert.match(started.type, /text\/plain/);
    const id = started.text;
    const t1 = await pollOne("integration_task_1");
    assert.equal(t1.workflowInstanceId, id);
    assert.equal(t1.status, "IN_PROGRESS");
    // The run's facts come with the polled task, as in Conductor's Task.
    const stored = (await api("GET", `/api/workflow/${id}?includeTasks=true`)).json.tasks[0];
    assert.equal(t1.correlationId, "c-1");
    assert.equal(t1.workflowType, "integration_test_wf");
    assert.equal(t1.seq, stored.seq);
    assert.equal(t1.scheduledTime, stored.scheduledTime);
    assert.equal(t1.startTime, stored.startTime);
    assert.ok(t1.scheduledTime > 0 && t1.startTime >= t1.scheduledTime);
    assert.equal(t1.taskDefName, "integration_task_1");
    assert.equal(t1.referenceTaskName, "t1");
    assert.equal(t1.pollCount, 1);
    assert.equal(t1.workflowPriority, 0);
    assert.equal(t1.inputData.p1, "p1");
    assert.equal(t1.inputData.p2, "p2");
    const log = await api("POST", `/api/tasks/${t1.taskId}/log`, JSON.stringify("working on it"));
    assert.equal(log.status, 200);
    const updated = await api("POST", "/api/tasks", {
      taskId: t1.taskId,
      workflowInstanceId: id,
      status: "COMPLETED",
      outputData: { op: "done" },
      workerId: "rest-worker",
    });
    assert.equal(updated.status, 200);
    assert.equal(updated.text, t1.taskId);
    const logs = await api("GET", `/api/tasks/${t1.taskId}/log`);
    assert.deepEqual(
      logs.json.map((l: any) => l.log),
      ["working on it"],
    );
    // update-v2 answers with the worker's next task when one is ready, else 204.
    const t2 = await pollOne("integration_task_2");
    const v2 = await api("POST", "/api/tasks/update-v2", {
      taskId: t2.taskId,
      workflowInstanceId: id,
      status: "COMPLETED",
      outputData: { uuid: "u" },
      workerId: "rest-worker",
    });
    assert.equal(v2.status, 204);
    const run = await api("GET", `/api/workflow/${id}`);
    assert.equal(run.json.status, "COMPLETED");
    assert.deepEqual(run.json.output, { o1: "p1", o2: "u", o3: "done" });
    assert.equal(run.json.correlationId, "c-1");
    assert.equal(run.json.tasks[0].workerId, "rest-worker");
    const task = await api("GET", `/api/tasks/${t1.taskId}`);
    assert.equal(task.json.status, "COMPLETED");
    assert.deepEqual(task.json.outputData, { op: "done" });
    const viaGrpc = await s.grpc.getWorkflow(id);
    assert.equal(viaGrpc.status, "COMPLETED");
    const status = await api("GET", `/api/workflow/${id}/status?includeOutput=true`);
    assert.deepEqual(status.json, { workflowId: id, correlationId: "c-1", output: { o1: "p1", o2: "u", o3: "done" }, status: "COMPLETED" });
  });

  test("a batch long poll answers as soon as a task is ready, and [] when none comes", async () => {
    const empty = await api("GET", "/api/tasks/poll/batch/integration_task_4?count=2&timeout=50");
    assert.deepEqual(empty.json, []);
    assert.equal((await api("GET", "/api/tasks/poll/integration_task_4")).status, 204);
    const began = Date.now();
    const waiting = api("GET", "/api/tasks/poll/batch/integration_task_1?workerid=w&count=5&timeout=30000");
    await new Promise((r) => setTimeout(r, 100));
    const id = await s.grpc.startWorkflow("integration_test_wf", { param1: "x" });
    const polled = await waiting;
    assert.equal(polled.json.length, 1);
    assert.equal(polled.json[0].workflowInstanceId, id);
    assert.ok(Date.now() - began < 30_000, "the long poll waited out its timeout instead of answering when the task was ready");
    await s.grpc.terminateWorkflow(id, "done with it");
  });

  test("a batch long poll takes every task one commit makes ready; update-v2 and a poll that does not wait take what is ready now", async () => {
    const fan = forkOfTasks("rest_fan", { a: "rest_fan_task", b: "rest_fan_task", c: "rest_fan_task" });
    assert.equal(
      (await api("POST", "/api/metadata/taskdefs", [{ name: "rest_fan_task", retryCount: 0, timeoutSeconds: 600, responseTimeoutSeconds: 300 }])).status,
      200,
    );
    assert.equal((await api("POST", "/api/metadata/workflow", fan)).status, 200);
    const waiting = api("GET", "/api/tasks/poll/batch/rest_fan_task?workerid=fan&count=5&timeout=30000");
    for (let i = 0; !(await s.grpc.workers("rest_fan_task")).some((w) => w.freeSlots === 5); i++) {
      assert.ok(i < 500, "the long poll never showed as waiting");
      await new Promise((r) => setTimeout(r, 10));
    }
    const first = (await api("POST", "/api/workflow/rest_fan", {})).text;
    const polled = await waiting;
    assert.deepEqual(
      polled.json.map((t: any) => [t.workflowInstanceId, t.referenceTaskName]).sort(),
      [
        [first, "a"],
        [first, "b"],
        [first, "c"],
      ],
      "the three tasks the start made ready go out in one answer",
    );
    // No one waits now: the next run's three tasks are queued.
    const second = (await api("POST", "/api/workflow/rest_fan", {})).text;
    const done = (task: any) =>
      api("POST", "/api/tasks/update-v2", { taskId: task.taskId, workflowInstanceId: first, status: "COMPLETED", outputData: {}, workerId: "fan" });
    const next1 = await done(polled.json[0]);
    assert.equal(next1.status, 200, next1.text);
    assert.equal(next1.json.workflowInstanceId, second);
    const { tasks: now } = await s.grpc.tasks.poll({ taskType: "rest_fan_task", workerId: "fan-grpc", count: 1, waitMs: 0n });
    assert.equal(now.length, 1, "a poll with wait_ms 0 takes a task that is ready");
    assert.equal(now[0]!.workflowId, second);
    const next3 = await done(polled.json[1]);
    assert.equal(next3.status, 200, next3.text);
    assert.deepEqual(new Set([next1.json.referenceTaskName, now[0]!.referenceTaskName, next3.json.referenceTaskName]), new Set(["a", "b", "c"]));
    assert.equal((await done(polled.json[2])).status, 204, "nothing is ready: no next task");
    assert.equal((await s.grpc.tasks.poll({ taskType: "rest_fan_task", workerId: "fan-grpc", count: 1, waitMs: 0n })).tasks.length, 0);
    assert.equal((await api("GET", `/api/workflow/${first}`)).json.status, "COMPLETED");
    await s.grpc.terminateWorkflow(second, "done with it");
  });

  /** Holds the server's claims at the door until `letGo` (the real claim runs then); `claims` counts those that came. */
  const holdClaims = () => {
    const store = s.server.store;
    const claim = store.claim;
    const held = { claims: 0, letGo: () => {}, restore: () => {} };
    const door = new Promise<void>((resolve) => (held.letGo = resolve));
    store.claim = async (...args) => {
      held.claims++;
      await door;
      return claim(...args);
    };
    held.restore = () => {
      store.claim = claim;
      held.letGo();
    };
    return held;
  };
  let raced = false;
  const raceFlow = async () => {
    const type = "rest_race_task";
    if (raced) return type;
    raced = true;
    assert.equal((await api("POST", "/api/metadata/taskdefs", [{ name: type, retryCount: 0, timeoutSeconds: 600, responseTimeoutSeconds: 300 }])).status, 200);
    const flow = flowOf("rest_race", [{ name: type, taskReferenceName: "r", type: "SIMPLE" }]);
    assert.equal((await api("POST", "/api/metadata/workflow", flow)).status, 200);
    return type;
  };
  const until = async (what: string, check: () => Promise<boolean> | boolean) => {
    for (let i = 0; !(await check()); i++) {
      assert.ok(i < 500, what);
      await new Promise((r) => setTimeout(r, 10));
    }
  };

  test("a poll with a claim out for it is not handed a task at commit: it takes what the claim found, and the new task waits in the queue", async () => {
    const type = await raceFlow();
    const queued = (await api("POST", "/api/workflow/rest_race", {})).text;
    const held = holdClaims();
    try {
      const first = api("GET", `/api/tasks/poll/batch/${type}?workerid=racer&count=1&timeout=30000`);
      await until("the poll's claim never went out", () => held.claims > 0);
      const later = (await api("POST", "/api/workflow/rest_race", {})).text;
      const [task] = (await api("GET", `/api/workflow/${later}`)).json.tasks;
      assert.equal(task.status, "SCHEDULED", "queued, not handed to the poll whose claim is out");
      held.letGo();
      const [got] = (await first).json;
      assert.equal(got.workflowInstanceId, queued);
      assert.equal(got.pollCount, 1);
      const [next] = (await api("GET", `/api/tasks/poll/batch/${type}?workerid=racer&count=1&timeout=30000`)).json;
      assert.equal(next.workflowInstanceId, later);
      assert.equal(next.pollCount, 1);
      await s.grpc.terminateWorkflow(queued, "done with it");
      await s.grpc.terminateWorkflow(later, "done with it");
    } finally {
      held.restore();
    }
  });

  test("a task claimed for a poll that ended meanwhile goes to the same worker's next poll, not back to the queue", async () => {
    const type = await raceFlow();
    const queued = (await api("POST", "/api/workflow/rest_race", {})).text;
    const held = holdClaims();
    const freeSlots = async () => (await s.grpc.workers(type)).find((w) => w.workerId === "racer")?.freeSlots;
    try {
      const first = await api("GET", `/api/tasks/poll/batch/${type}?workerid=racer&count=1&timeout=100`);
      assert.deepEqual(first.json, [], "the poll timed out while its claim was held");
      assert.equal(held.claims, 1);
      const second = api("GET", `/api/tasks/poll/batch/${type}?workerid=racer&count=1&timeout=30000`);
      await until("the second poll never showed as waiting", async () => (await freeSlots()) === 1);
      held.letGo();
      const [task] = (await second).json;
      assert.equal(task.workflowInstanceId, queued);
      assert.equal(task.pollCount, 1, "claimed once: not put back in the queue and claimed again");
      await s.grpc.terminateWorkflow(queued, "done with it");
    } finally {
      held.restore();
    }
  });

  test("an update-v2 whose client leaves before the answer puts the next task it took back in the queue at once", async () => {
    const type = await raceFlow();
    const first = (await api("POST", "/api/workflow/rest_race", {})).text;
    const [task] = (await api("GET", `/api/tasks/poll/batch/${type}?workerid=leaver&count=1&timeout=30000`)).json;
    assert.equal(task.workflowInstanceId, first);
    const second = (await api("POST", "/api/workflow/rest_race", {})).text;
    const secondTask = async () => (await api("GET", `/api/workflow/${second}`)).json.tasks[0];
    // The result's write is held: update-v2 takes the next task meanwhile, and its client leaves before the answer.
    const store = s.server.store;
    const writeBatch = store.writeBatch;
    let letGo = () => {};
    const door = new Promise<void>((resolve) => (letGo = resolve));
    store.writeBatch = async (...args) => {
      await door;
      return writeBatch(...args);
    };
    const update = httpRequest(`${s.base}/api/tasks/update-v2`, { method: "POST", headers: { "content-type": "application/json" } });
    update.on("error", () => {}); // destroyed below
    update.end(JSON.stringify({ taskId: task.taskId, workflowInstanceId: first, status: "COMPLETED", outputData: {}, workerId: "leaver" }));
    try {
      await until("update-v2 never took the next task", async () => (await secondTask()).status === "IN_PROGRESS");
      update.destroy();
      await until("the next task stayed leased to a client that left", async () => (await secondTask()).status === "SCHEDULED");
    } finally {
      store.writeBatch = writeBatch;
      letGo();
    }
    // Back in the queue, not waiting out its lease (the clock has not moved): the next poll takes it, a second time.
    const [again] = (await api("GET", `/api/tasks/poll/batch/${type}?workerid=other&count=1&timeout=30000`)).json;
    assert.equal(again.workflowInstanceId, second);
    assert.equal(again.pollCount, 2);
    // The result itself was written.
    await until("the first run never completed", async () => (await api("GET", `/api/workflow/${first}`)).json.status === "COMPLETED");
    await s.grpc.terminateWorkflow(second, "done with it");
  });

  test("REST and gRPC workers share one queue, leases and fencing: a stale REST update is refused", async () => {
    const id = await s.grpc.startWorkflow("integration_test_wf", {});
    const t1 = await handOutAgain("integration_task_1", "rest-a");
    const { tasks } = await s.grpc.tasks.poll({ taskType: "integration_task_1", workerId: "grpc-b", count: 1, waitMs: 5000n });
    assert.equal(tasks[0]?.taskId, t1.taskId, "the gRPC worker got the same task from the same queue");
    const stale = await api("POST", "/api/tasks", {
      taskId: t1.taskId,
      workflowInstanceId: id,
      status: "COMPLETED",
      outputData: { from: "a" },
      workerId: "rest-a",
    });
    assert.equal(stale.status, 409);
    assert.match(stale.json.message, /stale lease/);
    // update-v2 looks for the next task while the result is written: a refused result hands out none, and takes none from the queue.
    const other = await s.grpc.startWorkflow("integration_test_wf", {});
    const queued = async () => (await api("GET", "/api/tasks/queue/size?taskType=integration_task_1")).json as number;
    const before = await queued();
    assert.ok(before >= 1);
    const staleV2 = await api("POST", "/api/tasks/update-v2", { taskId: t1.taskId, workflowInstanceId: id, status: "COMPLETED", workerId: "rest-a" });
    assert.equal(staleV2.status, 409);
    assert.equal(await queued(), before, "the refused update-v2 left the queue as it was");
    await s.grpc.terminateWorkflow(other, "done with it");
    assert.equal((await s.grpc.getWorkflow(id)).tasks[0]!.status, "IN_PROGRESS");
    await s.grpc.tasks.updateTask({ result: { taskId: t1.taskId, leaseToken: tasks[0]!.leaseToken, status: 3, outputJson: '{"from":"b"}' } });
    assert.equal((await api("GET", `/api/tasks/${t1.taskId}`)).json.status, "COMPLETED");
    await api("DELETE", `/api/workflow/${id}?reason=test`);
  });

  test("a result naming another worker than its poll did is the holder's while the task was handed out once", async () => {
    const id = await s.grpc.startWorkflow("integration_test_wf", {});
    const t1 = await pollOne("integration_task_1", "poller-name");
    // Conductor's Go SDK stamps the host's name on a TaskResult (model.NewTaskResultFromTask), whatever workerid its poll sent.
    const done = await api("POST", "/api/tasks", {
      taskId: t1.taskId,
      workflowInstanceId: id,
      status: "COMPLETED",
      outputData: { by: "host" },
      workerId: "host-name",
    });
    assert.equal(done.status, 200, done.text);
    const task = (await api("GET", `/api/tasks/${t1.taskId}`)).json;
    assert.deepEqual([task.status, task.outputData], ["COMPLETED", { by: "host" }]);
    // Handed out twice, a result from a name neither poll sent could be the first holder's: refused, as from the first holder.
    const t2 = await handOutAgain("integration_task_2", "poller-name");
    const again = await pollOne("integration_task_2", "second-poller");
    assert.equal(again.taskId, t2.taskId);
    const unnamed = await api("POST", "/api/tasks", { taskId: t2.taskId, workflowInstanceId: id, status: "COMPLETED", workerId: "host-name" });
    assert.equal(unnamed.status, 409);
    assert.match(unnamed.json.message, /stale lease/);
    await api("DELETE", `/api/workflow/${id}?reason=test`);
  });

  test("IN_PROGRESS heartbeats extend the lease; FAILED retries, FAILED_WITH_TERMINAL_ERROR does not", async () => {
    const id = (await api("POST", "/api/workflow", { name: "integration_test_wf", input: { param1: "a" } })).text;
    const t1 = await pollOne("integration_task_1");
    const beat = await api("POST", "/api/tasks", {
      taskId: t1.taskId,
      workflowInstanceId: id,
      status: "IN_PROGRESS",
      extendLease: true,
      workerId: "rest-worker",
    });
    assert.equal(beat.status, 200);
    const failed = await api("POST", "/api/tasks", {
      taskId: t1.taskId,
      workflowInstanceId: id,
      status: "FAILED",
      reasonForIncompletion: "flaky",
      workerId: "rest-worker",
    });
    assert.equal(failed.status, 200);
    const retry = await pollOne("integration_task_1");
    assert.notEqual(retry.taskId, t1.taskId);
    assert.equal(retry.retryCount, 1);
    await api("POST", "/api/tasks", {
      taskId: retry.taskId,
      workflowInstanceId: id,
      status: "FAILED_WITH_TERMINAL_ERROR",
      reasonForIncompletion: "broken input",
      workerId: "rest-worker",
    });
    const run = await api("GET", `/api/workflow/${id}`);
    assert.equal(run.json.status, "FAILED");
    assert.deepEqual(
      run.json.tasks.map((t: any) => t.status),
      ["FAILED", "FAILED_WITH_TERMINAL_ERROR"],
    );
    // An update to an ended task changes nothing (and is not an error).
    assert.equal((await api("POST", "/api/tasks", { taskId: retry.taskId, workflowInstanceId: id, status: "COMPLETED", workerId: "rest-worker" })).status, 200);
    assert.equal((await api("GET", `/api/workflow/${id}`)).json.status, "FAILED");
  });
});

describe("clients", () => {
  test("pause, resume, terminate, retry, restart, rerun, skip and complete by reference", async () => {
    const id = (await api("POST", "/api/workflow/integration_test_wf", { param1: "a" })).text;
    assert.equal((await api("PUT", `/api/workflow/${id}/pause`)).status, 200);
    assert.equal((await api("GET", `/api/workflow/${id}?includeTasks=false`)).json.status, "PAUSED");
    assert.equal((await api("PUT", `/api/workflow/${id}/resume`)).status, 200);
    const byRef = await api("POST", `/api/tasks/${id}/t1/COMPLETED`, { op: "by-ref" });
    assert.equal(byRef.status, 200);
    assert.match(byRef.type, /text\/plain/);
    const synced = await api("POST", `/api/tasks/${id}/t2/FAILED/sync`, {});
    assert.equal(synced.json.workflowId, id);
    // integration_task_2 retries once: fail the retry too, then retry the run.
    await api("POST", `/api/tasks/${id}/t2/FAILED`, {});
    assert.equal((await api("GET", `/api/workflow/${id}`)).json.status, "FAILED");
    assert.equal((await api("POST", `/api/workflow/${id}/retry`)).status, 204);
    assert.equal((await api("GET", `/api/workflow/${id}`)).json.status, "RUNNING");
    assert.equal((await api("PUT", `/api/workflow/${id}/skiptask/t2`, { taskOutput: { uuid: "skipped" } })).status, 200);
    const done = await api("GET", `/api/workflow/${id}`);
    assert.equal(done.json.status, "COMPLETED");
    assert.equal(done.json.output.o2, "skipped");
    const rerun = await api("POST", `/api/workflow/${id}/rerun`, { reRunFromTaskId: done.json.tasks[0].taskId, taskInput: { p1: "again" } });
    assert.equal(rerun.text, id);
    assert.equal((await pollOne("integration_task_1")).inputData.p1, "again");
    assert.equal((await api("DELETE", `/api/workflow/${id}?reason=enough`)).status, 200);
    const ended = await api("GET", `/api/workflow/${id}`);
    assert.equal(ended.json.status, "TERMINATED");
    assert.equal(ended.json.reasonForIncompletion, "enough");
    assert.equal((await api("POST", `/api/workflow/${id}/restart`)).status, 204);
    assert.equal((await api("GET", `/api/workflow/${id}`)).json.status, "RUNNING");
    const bulk = await api("POST", "/api/workflow/bulk/terminate?reason=bulk", [id, "00000000-0000-0000-0000-000000000000"]);
    assert.deepEqual(bulk.json.bulkSuccessfulResults, [id]);
    assert.deepEqual(Object.keys(bulk.json.bulkErrorResults), ["00000000-0000-0000-0000-000000000000"]);
  });

  test("start-and-wait, correlated runs, running ids and search with Conductor's query grammar", async () => {
    const waited = await api("POST", "/api/workflow/execute/integration_test_wf/1?requestId=r1&waitForSeconds=1", {
      input: { param1: "w" },
      correlationId: "corr-9",
    });
    assert.equal(waited.status, 200);
    assert.equal(waited.json.status, "RUNNING");
    assert.equal(waited.json.requestId, "r1");
    const id = waited.json.workflowId;
    const correlated = await api("GET", "/api/workflow/integration_test_wf/correlated/corr-9?includeTasks=true");
    assert.deepEqual(
      correlated.json.map((w: any) => w.workflowId),
      [id],
    );
    assert.equal(correlated.json[0].tasks.length, 1);
    const running = await api("GET", "/api/workflow/running/integration_test_wf?version=1");
    assert.ok(running.json.includes(id));
    const q = encodeURIComponent(`workflowType = 'integration_test_wf' AND status IN (RUNNING, PAUSED) AND correlationId = "corr-9" AND startTime > 0`);
    const found = await api("GET", `/api/workflow/search?query=${q}&size=10`);
    assert.equal(found.status, 200, found.text);
    assert.deepEqual(
      found.json.results.map((w: any) => w.workflowId),
      [id],
    );
    assert.equal(found.json.results[0].workflowType, "integration_test_wf");
    assert.match(found.json.results[0].startTime, /^\d{4}-\d\d-\d\dT/);
    const v2 = await api("GET", `/api/workflow/search-v2?freeText=${id}`);
    assert.deepEqual(
      v2.json.results.map((w: any) => w.workflowId),
      [id],
    );
    const none = await api("GET", `/api/workflow/search?query=${encodeURIComponent("status = COMPLETED AND correlationId = 'corr-9'")}`);
    assert.deepEqual(none.json, { totalHits: 0, results: [] });
    const bad = await api("GET", `/api/workflow/search?query=${encodeURIComponent("status = RUNNING OR status = FAILED")}`);
    assert.equal(bad.status, 400);
    assert.match(bad.json.message, /AND/);
    await api("DELETE", `/api/workflow/${id}`);
  });

  test("search sorts by Conductor's sort parameter (startTime, endTime, workflowType, status) and refuses other fields", async () => {
    // a: the older run, of integration_test_wf3, still running; b: the newer, of integration_test_wf, terminated.
    assert.equal((await api("PUT", "/api/metadata/workflow", [fixture("simple_workflow_3_integration_test.json")])).status, 200);
    const a = (await api("POST", "/api/workflow/integration_test_wf3?correlationId=sorted", {})).text;
    clock.advance(1000);
    const b = (await api("POST", "/api/workflow/integration_test_wf?correlationId=sorted", {})).text;
    assert.equal((await api("DELETE", `/api/workflow/${b}`)).status, 200);
    // One search (the server's order), and one per workflow type merged here: the same order either way.
    const queries = [`correlationId = 'sorted'`, `workflowType IN (integration_test_wf, integration_test_wf3) AND correlationId = 'sorted'`];
    const expected: [string, string[]][] = [
      ["", [b, a]],
      ["startTime:DESC", [b, a]],
      ["startTime:ASC", [a, b]],
      ["startTime", [a, b]],
      ["endTime:ASC", [a, b]],
      ["endTime:DESC", [b, a]],
      ["workflowType:DESC", [a, b]],
      ["workflowType:asc", [b, a]],
      ["status:ASC", [a, b]],
      ["status:DESC", [b, a]],
    ];
    for (const query of queries)
      for (const [sort, ids] of expected) {
        const found = await api("GET", `/api/workflow/search?query=${encodeURIComponent(query)}&sort=${encodeURIComponent(sort)}`);
        assert.equal(found.status, 200, found.text);
        assert.deepEqual(
          found.json.results.map((w: any) => w.workflowId),
          ids,
          `${query} sorted by ${sort || "default"}`,
        );
      }
    for (const [sort, message] of [
      ["updateTime:DESC", /startTime, endTime, workflowType or status, not "updateTime"/],
      ["startTime:UP", /ASC or DESC, not "UP"/],
      ["startTime:DESC|status:ASC", /one field/],
    ] as const) {
      const bad = await api("GET", `/api/workflow/search-v2?sort=${encodeURIComponent(sort)}`);
      assert.equal(bad.status, 400, sort);
      assert.match(bad.json.message, message);
    }
    await api("DELETE", `/api/workflow/${a}`);
  });

  test("event handlers", async () => {
    const handler = {
      name: "rest_handler",
      event: "conductor:rest",
      active: true,
      actions: [{ action: "complete_task", complete_task: { workflowId: "${workflowId}", taskRefName: "t1" } }],
    };
    assert.equal((await api("POST", "/api/event", handler)).status, 200);
    assert.equal((await api("POST", "/api/event", handler)).status, 409);
    assert.equal((await api("PUT", "/api/event", { ...handler, active: false })).status, 200);
    assert.deepEqual(
      (await api("GET", "/api/event")).json.map((h: any) => [h.name, h.active]),
      [["rest_handler", false]],
    );
    assert.deepEqual(
      (await api("GET", "/api/event/conductor:rest?activeOnly=false")).json.map((h: any) => h.name),
      ["rest_handler"],
    );
    assert.equal((await api("DELETE", "/api/event/rest_handler")).status, 200);
    assert.deepEqual((await api("GET", "/api/event")).json, []);
  });
});

describe("bad input", () => {
  test("unknown paths are 404 with Conductor's error body; unserved endpoints say so", async () => {
    const unknown = await api("GET", "/api/nothing/here");
    assert.equal(unknown.status, 404);
    assert.equal(unknown.json.status, 404);
    assert.equal(typeof unknown.json.message, "string");
    assert.equal(typeof unknown.json.instance, "string");
    assert.equal(unknown.json.retryable, false);
    const unserved = await api("GET", "/api/tasks/queue/polldata?taskType=x");
    assert.equal(unserved.status, 501);
    assert.match(unserved.json.message, /polldata.*does not serve/);
    // Orkes' batch of names and correlation ids (Conductor's Go SDK GetWorkflowsBatch), which OSS Conductor lacks too.
    const batch = await api("POST", "/api/workflow/correlated/batch", { workflowNames: ["integration_test_wf"], correlationIds: ["c"] });
    assert.equal(batch.status, 501);
    assert.match(batch.json.message, /correlated\/batch.*does not serve.*\/correlated once per workflow name/);
    assert.equal((await api("GET", "/api/workflow/00000000-0000-0000-0000-000000000000")).status, 404);
  });

  test("a malformed TaskResult is refused naming the field, and changes nothing", async () => {
    const id = await s.grpc.startWorkflow("integration_test_wf", {});
    const t1 = await pollOne("integration_task_1");
    const badStatus = await api("POST", "/api/tasks", { taskId: t1.taskId, workflowInstanceId: id, status: "DONE" });
    assert.equal(badStatus.status, 400);
    assert.equal(badStatus.json.validationErrors[0].path, "status");
    const badOutput = await api("POST", "/api/tasks", { taskId: t1.taskId, workflowInstanceId: id, status: "COMPLETED", outputData: "not an object" });
    assert.equal(badOutput.status, 400);
    assert.match(badOutput.json.message, /outputData/);
    const noId = await api("POST", "/api/tasks", { status: "COMPLETED" });
    assert.equal(noId.status, 400);
    assert.match(noId.json.message, /taskId is required/);
    const notJson = await api("POST", "/api/tasks", "{not json");
    assert.equal(notJson.status, 400);
    const badCount = await api("GET", "/api/tasks/poll/batch/integration_task_1?count=many");
    assert.equal(badCount.status, 400);
    assert.match(badCount.json.message, /count/);
    const task = (await s.grpc.getWorkflow(id)).tasks[0]!;
    assert.equal(task.status, "IN_PROGRESS");
    assert.deepEqual(task.outputData, {});
    const badStart = await api("POST", "/api/workflow", { name: "integration_test_wf", priority: 500 });
    assert.equal(badStart.status, 400);
    assert.equal(badStart.json.validationErrors[0].path, "priority");
    await s.grpc.terminateWorkflow(id, "done");
  });
});
