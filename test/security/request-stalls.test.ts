// Unfinished request messages and one connection's share of the request budget
// (issue 14). A message takes room from its length prefix; before, a caller
// that began messages and never finished them held that room until its streams
// closed (keepalive does not close them), and one connection could hold the
// whole budget, so every other caller's large requests were refused. Now a
// message begun must arrive whole within a deadline, messages arriving for a
// while are ended when another request finds no room, and one connection holds
// at most a share.
import assert from "node:assert/strict";
import http from "node:http";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { TaskStatus, grpc, type LeasedTask } from "@baton/protocol";
import { requestBudgetOf, serverOptionsFromEnv } from "@baton/server";
import { eventually, metricValue, startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

const MiB = 1024 * 1024;
// A connection's share is a quarter: 1 MiB.
const BUDGET = { totalBytes: 4 * MiB, arrivalMs: 20_000, stalledMs: 5_000 };
const flow = flowOf("stalled_results", [{ name: "stalled_result", taskReferenceName: "stalled_result", type: "SIMPLE" }]);

let h: Harness;

before(async () => {
  h = await startHarness({ server: { requestBudget: BUDGET, metrics: { port: 0 }, conductor: { port: 0 } } });
  await h.client.registerTaskDefs([{ name: "stalled_result", retryCount: 0, responseTimeoutSeconds: 3600 }]);
  await h.client.registerWorkflowDef(flow);
});
after(() => h.close());

const metric = (name: string, labels: Record<string, string> = {}) => metricValue(h.server, name, labels);
const inHand = () => metric("baton_request_bytes_in_hand");
const ended = (reason: string) => metric("baton_unfinished_requests_ended_total", { reason });

async function leasedTask(): Promise<LeasedTask> {
  await h.client.startWorkflow(flow.name, {});
  for (;;) {
    const [task] = (await h.client.tasks.poll({ taskType: "stalled_result", workerId: "w", count: 1, waitMs: 0n })).tasks;
    if (task) return task;
  }
}

/** A result of just under 1 MiB, sent whole on the harness client's connection: "OK" or the status it was refused with. */
async function complete(task: LeasedTask): Promise<string> {
  const outputJson = JSON.stringify({ pad: "x".repeat(MiB - 100) });
  return h.client.tasks
    .updateTask({ result: { taskId: task.taskId, leaseToken: task.leaseToken, status: TaskStatus.COMPLETED, outputJson, workerId: "w" } })
    .then(
      () => "OK",
      (error: { code?: number }) => grpc.status[error.code ?? -1] ?? String(error.code),
    );
}

interface Unfinished {
  session: http2.ClientHttp2Session;
  /** Each stream's grpc-status and grpc-message, as they come. */
  statuses: { code: string; message: string }[];
}

/** Raw HTTP/2 streams on one connection, each announcing a 1 MiB UpdateTask message and sending its first 1,005 bytes. */
function unfinished(n: number): Unfinished {
  const session = http2.connect(`http://${h.server.address}`);
  session.on("error", () => {});
  const statuses: Unfinished["statuses"] = [];
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(MiB, 1);
  const status = (headers: http2.IncomingHttpHeaders) => {
    if (headers["grpc-status"] !== undefined)
      statuses.push({ code: String(headers["grpc-status"]), message: decodeURIComponent(String(headers["grpc-message"] ?? "")) });
  };
  for (let i = 0; i < n; i++) {
    const stream = session.request({ ":method": "POST", ":path": "/baton.v1.TaskService/UpdateTask", "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => {});
    // A status before any answer comes as headers only (a trailers-only response).
    stream.on("response", status);
    stream.on("trailers", status);
    stream.write(Buffer.concat([prefix, Buffer.alloc(1000)]));
  }
  return { session, statuses };
}

const RESOURCE_EXHAUSTED = String(grpc.status.RESOURCE_EXHAUSTED);

describe("unfinished request messages and a connection's share of the request budget", () => {
  it("ends a call whose message has not arrived whole by the deadline and frees its room; a Dispatch stream reading its messages stays", async () => {
    const stream = h.client.tasks.dispatch();
    stream.on("error", () => {});
    const pushed = new Promise<LeasedTask | undefined>((resolve) => stream.once("data", (m: { task?: LeasedTask }) => resolve(m.task)));
    stream.write({ kind: { case: "subscribe", value: { taskTypes: ["stalled_result"], workerId: "streamer", domain: "" } } });
    stream.write({ kind: { case: "credits", value: 1 } });
    const stalled = unfinished(1);
    try {
      await eventually(inHand, (bytes) => bytes >= MiB);
      const before = await ended("deadline");
      await h.advance(BUDGET.arrivalMs - 1000);
      assert.equal(stalled.statuses.length, 0, "not ended before the deadline");
      assert.ok((await inHand()) >= MiB);
      await h.advance(1000);
      const [status] = await eventually(
        async () => stalled.statuses,
        (statuses) => statuses.length === 1,
      );
      assert.equal(status!.code, RESOURCE_EXHAUSTED);
      assert.match(
        status!.message,
        /this call's message of 1\.0 MiB did not arrive whole, and the server gives a message 20 s to arrive whole once begun: the call is ended unread, and nothing changed\. .*BATON_REQUEST_ARRIVAL_SECONDS/,
      );
      await eventually(inHand, (bytes) => bytes < MiB);
      assert.equal((await ended("deadline")) - before, 1);
      // The Dispatch stream's messages arrived whole long ago: it still takes tasks.
      const runId = await h.client.startWorkflow(flow.name, {});
      assert.equal((await pushed)?.workflowId, runId);
    } finally {
      stream.cancel();
      stalled.session.destroy();
    }
    await eventually(inHand, (bytes) => bytes === 0);
  });

  it("gives one connection at most its share: its unfinished messages past it are refused, and another connection's large request is served", async () => {
    const task = await leasedTask();
    const hog = unfinished(4);
    try {
      await eventually(
        async () => hog.statuses.length,
        (n) => n === 3,
      );
      for (const { code, message } of hog.statuses) {
        assert.equal(code, RESOURCE_EXHAUSTED);
        assert.match(message, /\(its budget: 4\.0 MiB, 1\.0 MiB a connection\), and this request of 1\.0 MiB does not fit: it was not read/);
      }
      assert.equal(await inHand(), MiB, "the connection holds its share");
      assert.equal(await complete(task), "OK", "another connection's 1 MiB result is served");
    } finally {
      hog.session.destroy();
    }
    await eventually(inHand, (bytes) => bytes === 0);
  });

  it("when a request finds no room, ends the calls of messages arriving for stalledMs, the oldest first, and serves it", async () => {
    const task = await leasedTask();
    // Four connections, each within its share, fill the budget.
    const hogs = [unfinished(1), unfinished(1), unfinished(1), unfinished(1)];
    try {
      await eventually(inHand, (bytes) => bytes === BUDGET.totalBytes);
      await h.advance(BUDGET.stalledMs - 1000);
      assert.equal(await complete(task), "RESOURCE_EXHAUSTED", "refused while no message has been arriving for stalledMs");
      const before = await ended("stalled");
      await h.advance(1000);
      assert.equal(await complete(task), "OK", "served once one stalled call is ended");
      const statuses = hogs.flatMap((hog) => hog.statuses);
      assert.equal(statuses.length, 1, "one stalled call ended: room for one");
      assert.match(statuses[0]!.message, /did not arrive whole, and it has been arriving for 5 s while another request needed room/);
      assert.equal((await ended("stalled")) - before, 1);
      const { task: stored } = await h.client.workflows.getTask({ workflowId: task.workflowId, taskId: task.taskId });
      assert.equal(TaskStatus[stored!.status], "COMPLETED");
    } finally {
      for (const hog of hogs) hog.session.destroy();
    }
    await eventually(inHand, (bytes) => bytes === 0);
  });

  it("ends a Conductor REST body that has not arrived whole by the deadline: 408 naming the limit, its room freed", async () => {
    const [host, port] = h.server.conductorAddress!.split(":");
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = http.request({
        host,
        port: Number(port),
        method: "POST",
        path: "/api/tasks",
        agent: false,
        headers: { "content-type": "application/json", "content-length": MiB },
      });
      req.on("error", reject);
      req.on("response", (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.write('{"taskId":"');
    });
    await eventually(inHand, (bytes) => bytes === MiB);
    await h.advance(BUDGET.arrivalMs);
    const { status, body } = await answer;
    assert.equal(status, 408);
    assert.match(body, /did not arrive whole, and the server gives a message 20 s to arrive whole once begun/);
    await eventually(inHand, (bytes) => bytes === 0);
  });

  it("is set by BATON_REQUEST_ARRIVAL_SECONDS; a bad value is refused naming it", () => {
    assert.deepEqual(serverOptionsFromEnv({ BATON_REQUEST_ARRIVAL_SECONDS: "90" }).requestBudget, { arrivalMs: 90_000 });
    for (const bad of ["0", "-1", "1.5", "60s"])
      assert.throws(
        () => serverOptionsFromEnv({ BATON_REQUEST_ARRIVAL_SECONDS: bad }),
        /BATON_REQUEST_ARRIVAL_SECONDS must be a positive whole number of seconds/,
      );
    assert.deepEqual(requestBudgetOf({ totalBytes: 8 * MiB }), { totalBytes: 8 * MiB, connectionBytes: 2 * MiB, arrivalMs: 60_000, stalledMs: 5_000 });
    assert.throws(() => requestBudgetOf({ arrivalMs: 0 }), /requestBudget\.arrivalMs must be a positive whole number, not 0/);
    assert.throws(() => requestBudgetOf({ connectionBytes: 1.5 }), /requestBudget\.connectionBytes must be a positive whole number/);
  });
});
