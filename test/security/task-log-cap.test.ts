// A task's log keeps at most 10,000 lines and 16 MiB of messages (issue 14,
// point 10): a worker holding a lease could otherwise add lines (each up to
// 2 MiB) without end. Before, every line was stored; then 10,000 lines of
// 2 MiB each, 20 GB, until the bytes were counted too.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BatonClient } from "@baton/client";
import { TaskStatus } from "@baton/protocol";
import { codeOf, startSecureServer, type SecureServer } from "./support.js";
import { flowOf } from "../support/flows.js";

const CAP = 10_000;
const flow = flowOf("chatty", [{ name: "chat", taskReferenceName: "chat", type: "SIMPLE" }]);

let s: SecureServer;
let admin: BatonClient;
let worker: BatonClient;

before(async () => {
  s = await startSecureServer({ conductor: { port: 0 } });
  admin = await s.clientWithNewKey({ role: "admin", name: "admin" });
  worker = await s.clientWithNewKey({ role: "worker", name: "chatters", taskTypes: ["chat"] });
  await admin.registerTaskDefs([{ name: "chat", retryCount: 0, responseTimeoutSeconds: 600 }]);
  await admin.registerWorkflowDef(flow);
});
after(() => s.close());

/** Every line of a task's log, page after page. */
async function allLines(taskId: string): Promise<string[]> {
  const seen: string[] = [];
  let pageToken = "";
  do {
    const page = await admin.tasks.getTaskLogs({ taskId, pageToken });
    seen.push(...page.logs.map((l) => l.message));
    pageToken = page.nextPageToken;
  } while (pageToken !== "");
  return seen;
}

describe("a task's log", () => {
  it(`keeps at most ${CAP} lines: UpdateTask's lines past it are dropped, AddTaskLog is refused saying so`, async () => {
    const runId = await admin.startWorkflow(flow.name, {});
    const task = (await worker.tasks.poll({ taskType: "chat", workerId: "w1", count: 1, waitMs: 5000n })).tasks[0];
    assert.ok(task, "the worker gets the task");
    const lease = { taskId: task.taskId, leaseToken: task.leaseToken, workerId: "w1", outputJson: "{}" };
    const batch = (prefix: string) => Array.from({ length: 6_000 }, (_, i) => `${prefix} ${i}`);

    // Two progress updates of 6,000 lines: the first is kept whole, the second up to the cap.
    await worker.tasks.updateTask({ result: { ...lease, status: TaskStatus.IN_PROGRESS, logs: batch("a") } });
    await worker.tasks.updateTask({ result: { ...lease, status: TaskStatus.IN_PROGRESS, logs: batch("b") } });
    const lines = await allLines(task.taskId);
    assert.equal(lines.length, CAP);
    assert.equal(lines[0], "a 0");
    assert.equal(lines[CAP - 1], "b 3999", "the earliest lines are kept, in order");

    // One more line is refused, to the worker and to an admin, with what to do.
    const refusal = await worker.tasks.addTaskLog({ taskId: task.taskId, message: "one more", leaseToken: task.leaseToken }).then(
      () => undefined,
      (error: Error) => error.message,
    );
    assert.match(refusal ?? "", /log is full: one task keeps at most 10000 log lines and 16777216 bytes of them; log less often/);
    assert.equal(await codeOf(worker.tasks.addTaskLog({ taskId: task.taskId, message: "one more", leaseToken: task.leaseToken })), "RESOURCE_EXHAUSTED");
    assert.equal(await codeOf(admin.tasks.addTaskLog({ taskId: task.taskId, message: "ops note" })), "RESOURCE_EXHAUSTED");
    // Over Conductor's REST API too.
    const base = `http://${s.server.conductorAddress}`;
    const headers = { "content-type": "application/json", "x-authorization": (await s.registry.create({ role: "admin" })).key };
    const rest = await fetch(`${base}/api/tasks/${task.taskId}/log`, { method: "POST", headers, body: JSON.stringify("over rest") });
    assert.equal(rest.status, 429, "a REST log line past the cap is refused");
    await rest.text();
    assert.equal((await allLines(task.taskId)).length, CAP);

    // The result still stands, with lines past the cap: the task completes.
    await worker.tasks.updateTask({ result: { ...lease, status: TaskStatus.COMPLETED, logs: ["done"] } });
    assert.equal((await admin.getWorkflow(runId, { includeTasks: false })).status, "COMPLETED");
    assert.equal((await allLines(task.taskId)).length, CAP);
  });
  it("keeps at most 16 MiB of messages: lines past it are refused or dropped, and the result stands", async () => {
    const runId = await admin.startWorkflow(flow.name, {});
    const task = (await worker.tasks.poll({ taskType: "chat", workerId: "w3", count: 1, waitMs: 5000n })).tasks[0];
    assert.ok(task, "the worker gets the task");
    const mib = (c: string) => c.repeat(1024 * 1024);
    for (let i = 0; i < 15; i++) await worker.tasks.addTaskLog({ taskId: task.taskId, message: mib(String.fromCharCode(97 + i)), leaseToken: task.leaseToken });
    // Two lines of 1 MiB in one update: the first fills the log to 16 MiB, the second is dropped.
    const lease = { taskId: task.taskId, leaseToken: task.leaseToken, workerId: "w3", outputJson: "{}" };
    await worker.tasks.updateTask({ result: { ...lease, status: TaskStatus.IN_PROGRESS, logs: [mib("p"), mib("q")] } });
    assert.equal(await codeOf(worker.tasks.addTaskLog({ taskId: task.taskId, message: "x", leaseToken: task.leaseToken })), "RESOURCE_EXHAUSTED");
    const lines = await allLines(task.taskId);
    assert.equal(lines.length, 16);
    assert.equal(
      lines.reduce((sum, l) => sum + l.length, 0),
      16 * 1024 * 1024,
    );
    assert.equal(lines[15]![0], "p");
    await worker.tasks.updateTask({ result: { ...lease, status: TaskStatus.COMPLETED, logs: ["done"] } });
    assert.equal((await admin.getWorkflow(runId, { includeTasks: false })).status, "COMPLETED");
  });
  it("holds the cap exactly when writers race at the same instant", async () => {
    // Before, each writer counted the lines without waiting for the others: racing at
    // 9,990 lines, several saw room for the same last lines and together passed the cap.
    await admin.startWorkflow(flow.name, {});
    const task = (await worker.tasks.poll({ taskType: "chat", workerId: "w2", count: 1, waitMs: 5000n })).tasks[0];
    assert.ok(task, "the worker gets the task");
    const lease = { taskId: task.taskId, leaseToken: task.leaseToken, workerId: "w2", outputJson: "{}" };
    await worker.tasks.updateTask({
      result: { ...lease, status: TaskStatus.IN_PROGRESS, logs: Array.from({ length: CAP - 10 }, (_, i) => `pre ${i}`) },
    });
    // 40 single lines and 10 progress updates of 3 lines, all at once, for 10 places left.
    const adds = Array.from({ length: 40 }, (_, i) => codeOf(admin.tasks.addTaskLog({ taskId: task.taskId, message: `race ${i}` })));
    const updates = Array.from({ length: 10 }, (_, i) =>
      worker.tasks.updateTask({ result: { ...lease, status: TaskStatus.IN_PROGRESS, logs: [`u${i} a`, `u${i} b`, `u${i} c`] } }),
    );
    const codes = await Promise.all(adds);
    await Promise.all(updates);
    const lines = await allLines(task.taskId);
    assert.equal(lines.length, CAP, "exactly the cap, however the writers interleaved");
    assert.equal(new Set(lines).size, CAP);
    const added = codes.filter((c) => c === "OK").length;
    assert.ok(
      codes.every((c) => c === "OK" || c === "RESOURCE_EXHAUSTED"),
      codes.join(","),
    );
    assert.equal(lines.filter((l) => l.startsWith("race ")).length, added, "every accepted line is stored, and no refused one");
  });
});
