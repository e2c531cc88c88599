// Task logs (issue 14, point 10). Before, a worker key logged to any task of
// its types without holding it, and to task ids that do not exist (a random
// id passed the scope check and its lines were stored), UpdateTask stored a
// refused result's log lines, and GetTaskLogs answered every line at once.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import type { BatonClient } from "@baton/client";
import { TaskStatus, type LeasedTask } from "@baton/protocol";
import { codeOf, startSecureServer, type SecureServer } from "./support.js";
import { flowOf } from "../support/flows.js";

const flow = flowOf("logged", [{ name: "encode", taskReferenceName: "encode", type: "SIMPLE" }]);

let s: SecureServer;
let admin: BatonClient;
let operator: BatonClient;
let worker: BatonClient;

before(async () => {
  s = await startSecureServer({ conductor: { port: 0 } });
  admin = await s.clientWithNewKey({ role: "admin", name: "admin" });
  operator = await s.clientWithNewKey({ role: "operator", name: "operator" });
  worker = await s.clientWithNewKey({ role: "worker", name: "encoders", taskTypes: ["encode"] });
  await admin.registerTaskDefs([{ name: "encode", retryCount: 0, responseTimeoutSeconds: 600 }]);
  await admin.registerWorkflowDef(flow);
});
after(() => s.close());

async function leased(): Promise<LeasedTask> {
  await operator.startWorkflow(flow.name, {});
  const task = (await worker.tasks.poll({ taskType: "encode", workerId: "w1", count: 1, waitMs: 5000n })).tasks[0];
  assert.ok(task, "the worker gets the task");
  return task;
}

const lines = async (taskId: string) => (await admin.tasks.getTaskLogs({ taskId })).logs.map((l) => l.message);

describe("AddTaskLog", () => {
  it("needs the task's lease from a worker key, and closes when the task ends", async () => {
    const task = await leased();
    assert.equal(await codeOf(worker.tasks.addTaskLog({ taskId: task.taskId, message: "no lease" })), "FAILED_PRECONDITION");
    assert.equal(await codeOf(worker.tasks.addTaskLog({ taskId: task.taskId, message: "wrong lease", leaseToken: randomUUID() })), "FAILED_PRECONDITION");
    await worker.tasks.addTaskLog({ taskId: task.taskId, message: "encoding", leaseToken: task.leaseToken });
    await worker.tasks.updateTask({
      result: { taskId: task.taskId, leaseToken: task.leaseToken, status: TaskStatus.COMPLETED, outputJson: "{}", workerId: "w1" },
    });
    assert.equal(await codeOf(worker.tasks.addTaskLog({ taskId: task.taskId, message: "after the end", leaseToken: task.leaseToken })), "FAILED_PRECONDITION");
    // An admin key needs no lease.
    await admin.tasks.addTaskLog({ taskId: task.taskId, message: "note from ops" });
    assert.deepEqual(await lines(task.taskId), ["encoding", "note from ops"]);
  });

  it("refuses task ids that do not exist, to every key", async () => {
    const unknown = randomUUID();
    assert.equal(await codeOf(worker.tasks.addTaskLog({ taskId: unknown, message: "x", leaseToken: randomUUID() })), "NOT_FOUND");
    assert.equal(await codeOf(admin.tasks.addTaskLog({ taskId: unknown, message: "x" })), "NOT_FOUND");
    // A result for an unknown task is refused, and its log lines with it.
    const result = { taskId: unknown, leaseToken: randomUUID(), status: TaskStatus.COMPLETED, outputJson: "{}", workerId: "w1", logs: ["smuggled"] };
    assert.notEqual(await codeOf(worker.tasks.updateTask({ result })), "OK");
    assert.deepEqual(await lines(unknown), []);
  });

  it("over Conductor's REST API, takes the lease this door handed out", async () => {
    await operator.startWorkflow(flow.name, {});
    const base = `http://${s.server.conductorAddress}`;
    const headers = { "content-type": "application/json", "x-authorization": (await s.registry.create({ role: "worker", taskTypes: ["encode"] })).key };
    const polled = await fetch(`${base}/api/tasks/poll/encode?workerid=rest`, { headers });
    const { taskId } = (await polled.json()) as { taskId: string };
    const logged = await fetch(`${base}/api/tasks/${taskId}/log`, { method: "POST", headers, body: JSON.stringify("over rest") });
    assert.equal(logged.status, 200, await logged.text());
    const unknown = await fetch(`${base}/api/tasks/${randomUUID()}/log`, { method: "POST", headers, body: JSON.stringify("x") });
    assert.equal(unknown.status, 404, await unknown.text());
    assert.deepEqual(await lines(taskId), ["over rest"]);
  });
});

describe("GetTaskLogs", () => {
  it("answers a page at a time: at most 1,000 lines, with a token for the next", async () => {
    const task = await leased();
    for (let i = 0; i < 2_500; i += 250) {
      await Promise.all(
        Array.from({ length: 250 }, (_, j) => admin.tasks.addTaskLog({ taskId: task.taskId, message: `line ${String(i + j).padStart(4, "0")}` })),
      );
    }
    const seen: string[] = [];
    const sizes: number[] = [];
    let pageToken = "";
    do {
      const page = await admin.tasks.getTaskLogs({ taskId: task.taskId, pageToken, pageSize: 5_000 });
      sizes.push(page.logs.length);
      seen.push(...page.logs.map((l) => l.message));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    assert.deepEqual(sizes, [1000, 1000, 500]);
    assert.equal(new Set(seen).size, 2_500, "every line once");
    const small = await admin.tasks.getTaskLogs({ taskId: task.taskId, pageSize: 10 });
    assert.equal(small.logs.length, 10);
    assert.notEqual(small.nextPageToken, "");
    assert.equal(await codeOf(admin.tasks.getTaskLogs({ taskId: task.taskId, pageToken: "not-a-token" })), "INVALID_ARGUMENT");
    assert.equal(await codeOf(admin.tasks.getTaskLogs({ taskId: task.taskId, pageSize: -1 })), "INVALID_ARGUMENT");
  });

  it("stops a page at about 4 MiB of messages, however few the lines", async () => {
    const task = await leased();
    const big = "z".repeat(1.5 * 1024 * 1024);
    for (let i = 0; i < 4; i++) await worker.tasks.addTaskLog({ taskId: task.taskId, message: `${i}${big}`, leaseToken: task.leaseToken });
    const first = await admin.tasks.getTaskLogs({ taskId: task.taskId });
    assert.deepEqual(
      first.logs.map((l) => l.message[0]),
      ["0", "1", "2"],
    );
    const second = await admin.tasks.getTaskLogs({ taskId: task.taskId, pageToken: first.nextPageToken });
    assert.deepEqual(
      second.logs.map((l) => l.message[0]),
      ["3"],
    );
    assert.equal(second.nextPageToken, "");
  });
});
