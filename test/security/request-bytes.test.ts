// Request bytes held at once on the gRPC port (issue 14). grpc-js gathers each
// message whole before a handler sees it, and nothing bounded the sum across
// calls: 300 worker calls of 1 MB at once took the server from 184 to 1,100 MB,
// and 300 streams each sent 1 MB less one byte held 284 MB with nothing
// handled. Now a message takes room in the server's budget of request bytes
// from its length prefix until its call ends; with no room its call is refused
// RESOURCE_EXHAUSTED before its body is read, and nothing it asked for happens.
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { TaskStatus, grpc, type LeasedTask } from "@baton/protocol";
import { serverOptionsFromEnv } from "@baton/server";
import { eventually, metricValue, startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

const MiB = 1024 * 1024;
const BUDGET = 4 * MiB;
const HOUR = 3_600_000;
const flow = flowOf("large_results", [{ name: "large_result", taskReferenceName: "large_result", type: "SIMPLE" }]);
const REFUSAL =
  /holds [\d.]+ MiB of requests being read or served \(its budget: 4\.0 MiB, 4\.0 MiB a connection\), and this request of 1\.0 MiB does not fit: it was not read, and nothing changed\. Retry in a few seconds, send smaller payloads, or have an operator raise BATON_REQUEST_BYTES/;

let h: Harness;

before(async () => {
  // The budget alone: no share per connection, no deadline on unfinished messages (request-stalls.test.ts has those).
  h = await startHarness({
    manualClock: false,
    server: { requestBudget: { totalBytes: BUDGET, connectionBytes: BUDGET, arrivalMs: HOUR, stalledMs: HOUR }, metrics: { port: 0 }, conductor: { port: 0 } },
  });
  await h.client.registerTaskDefs([{ name: "large_result", retryCount: 0, responseTimeoutSeconds: 3600 }]);
  await h.client.registerWorkflowDef(flow);
});
after(() => h.close());

const metric = (name: string, labels: Record<string, string> = {}) => metricValue(h.server, name, labels);
const inHand = () => metric("baton_request_bytes_in_hand");
const refused = (port = "grpc") => metric("baton_requests_refused_total", { port });

/** `n` tasks of new runs, leased. */
async function leased(n: number): Promise<{ task: LeasedTask; runId: string }[]> {
  for (let i = 0; i < n; i++) await h.client.startWorkflow(flow.name, {});
  const tasks: LeasedTask[] = [];
  while (tasks.length < n)
    tasks.push(...(await h.client.tasks.poll({ taskType: "large_result", workerId: "w", count: n - tasks.length, waitMs: 5000n })).tasks);
  return tasks.map((task) => ({ task, runId: task.workflowId }));
}

const PAD_BYTES = MiB - 200;
/** An output of just under 1 MiB that names its task. */
const outputOf = (task: LeasedTask) => JSON.stringify({ task: task.taskId, pad: "x".repeat(PAD_BYTES) });

type Outcome = { ok: true } | { ok: false; code: string; details: string };

function complete(task: LeasedTask, outputJson: string): Promise<Outcome> {
  return h.client.tasks
    .updateTask({ result: { taskId: task.taskId, leaseToken: task.leaseToken, status: TaskStatus.COMPLETED, outputJson, workerId: "w" } })
    .then(
      (): Outcome => ({ ok: true }),
      (error: { code?: number; details?: string }): Outcome => ({
        ok: false,
        code: grpc.status[error.code ?? -1] ?? String(error.code),
        details: error.details ?? "",
      }),
    );
}

/** A task's status as stored, and what its output says (the task it names, its padding's length), if it has one. */
async function stored(runId: string, taskId: string) {
  const { task } = await h.client.workflows.getTask({ workflowId: runId, taskId });
  const output = JSON.parse(task!.outputJson || "{}") as { task?: string; pad?: string };
  return { status: TaskStatus[task!.status], names: output.task, padBytes: output.pad?.length };
}
const storedWhole = (task: LeasedTask) => ({ status: "COMPLETED", names: task.taskId, padBytes: PAD_BYTES });

async function healthy(): Promise<number> {
  return (await fetch(`http://${h.server.metricsAddress}/healthz`)).status;
}

/** Conductor's task update over REST, with the same output: its status, Retry-After and error message. */
async function completeOverRest(task: LeasedTask, outputJson: string) {
  const body = `{"taskId":"${task.taskId}","workflowInstanceId":"${task.workflowId}","status":"COMPLETED","outputData":${outputJson}}`;
  const res = await fetch(`http://${h.server.conductorAddress}/api/tasks`, { method: "POST", headers: { "content-type": "application/json" }, body });
  const text = await res.text();
  return { status: res.status, retryAfter: res.headers.get("retry-after"), message: res.ok ? "" : (JSON.parse(text) as { message: string }).message };
}

/** Raw HTTP/2 streams, each announcing a 1 MiB UpdateTask message and sending only its start: each holds its room until closed. */
function stalledMessages(n: number): http2.ClientHttp2Session {
  const session = http2.connect(`http://${h.server.address}`);
  session.on("error", () => {});
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(MiB, 1);
  for (let i = 0; i < n; i++) {
    const stream = session.request({ ":method": "POST", ":path": "/baton.v1.TaskService/UpdateTask", "content-type": "application/grpc", te: "trailers" });
    stream.on("error", () => {});
    stream.write(Buffer.concat([prefix, Buffer.alloc(1000)]));
  }
  return session;
}

describe("request bytes held at once on the gRPC and REST ports", () => {
  it("refuses large calls unread while unfinished messages fill the budget, serves small ones, and takes the large ones once room comes", async () => {
    const calls = await leased(4);
    const session = stalledMessages(4);
    try {
      // Counted from their length prefix: 1,005 bytes of each arrived.
      await eventually(inHand, (bytes) => bytes === BUDGET);
      const refusedBefore = await refused();
      const large = calls.slice(0, 3);
      const outcomes = await Promise.all(large.map(({ task }) => complete(task, outputOf(task))));
      for (const outcome of outcomes) {
        assert.equal(outcome.ok, false, "a large call is refused while the budget is full");
        if (outcome.ok) continue;
        assert.equal(outcome.code, "RESOURCE_EXHAUSTED");
        assert.match(outcome.details, REFUSAL);
      }
      assert.equal((await refused()) - refusedBefore, 3);
      for (const { task, runId } of large)
        assert.deepEqual(
          await stored(runId, task.taskId),
          { status: "IN_PROGRESS", names: undefined, padBytes: undefined },
          "a refused result changes nothing",
        );
      const small = calls[3]!;
      assert.deepEqual(await complete(small.task, "{}"), { ok: true }, "a small call may go an eighth over the budget");
      assert.equal(await healthy(), 200);
    } finally {
      session.destroy();
    }
    await eventually(inHand, (bytes) => bytes === 0);
    for (const { task, runId } of calls.slice(0, 3)) {
      assert.deepEqual(await complete(task, outputOf(task)), { ok: true });
      assert.deepEqual(await stored(runId, task.taskId), storedWhole(task));
    }
  });

  it("takes as many concurrent large calls as fit, stores each whole, and refuses the rest leaving their tasks as they were", async () => {
    const calls = await leased(16);
    const health = (async () => {
      const statuses: number[] = [];
      while (statuses.length < 5) statuses.push(await healthy());
      return statuses;
    })();
    const outcomes = await Promise.all(calls.map(({ task }) => complete(task, outputOf(task))));
    assert.deepEqual(await health, [200, 200, 200, 200, 200]);
    const taken = outcomes.filter((o) => o.ok).length;
    assert.ok(taken >= 1 && taken < calls.length, `some calls taken and some refused: ${taken} of ${calls.length} taken`);
    for (const [i, { task, runId }] of calls.entries()) {
      const outcome = outcomes[i]!;
      const now = await stored(runId, task.taskId);
      if (outcome.ok) assert.deepEqual(now, storedWhole(task));
      else {
        assert.equal(outcome.code, "RESOURCE_EXHAUSTED");
        assert.match(outcome.details, REFUSAL);
        assert.deepEqual(now, { status: "IN_PROGRESS", names: undefined, padBytes: undefined }, "a refused result changes nothing");
      }
    }
    await eventually(inHand, (bytes) => bytes === 0);
    // One at a time, each fits.
    for (const [i, { task, runId }] of calls.entries()) {
      if (outcomes[i]!.ok) continue;
      assert.deepEqual(await complete(task, outputOf(task)), { ok: true });
      assert.equal((await stored(runId, task.taskId)).status, "COMPLETED");
    }
  });

  it("holds Conductor's REST bodies to the same budget: refused unread (429, Retry-After) while it is full, taken once it has room", async () => {
    const [call] = await leased(1);
    const { task, runId } = call!;
    const session = stalledMessages(4);
    try {
      await eventually(inHand, (bytes) => bytes === BUDGET);
      const refusedBefore = await refused("rest");
      const answer = await completeOverRest(task, outputOf(task));
      assert.equal(answer.status, 429, answer.message);
      assert.equal(answer.retryAfter, "5");
      assert.match(answer.message, REFUSAL);
      assert.equal((await refused("rest")) - refusedBefore, 1);
      assert.deepEqual(await stored(runId, task.taskId), { status: "IN_PROGRESS", names: undefined, padBytes: undefined }, "a refused result changes nothing");
    } finally {
      session.destroy();
    }
    await eventually(inHand, (bytes) => bytes === 0);
    assert.equal((await completeOverRest(task, outputOf(task))).status, 200);
    assert.deepEqual(await stored(runId, task.taskId), storedWhole(task));
  });

  it("counts a compressed message as the receive limit, and never refuses a Dispatch stream's credits, even past the eighth small calls may use", async () => {
    const [call] = await leased(1);
    const runId = await h.client.startWorkflow(flow.name, {}); // its task waits for the stream below
    // 1,000 bytes of a compressed message, of which half arrives: it may inflate to the receive limit (5 MiB), taken alone.
    const session = http2.connect(`http://${h.server.address}`);
    session.on("error", () => {});
    const compressed = session.request({
      ":method": "POST",
      ":path": "/baton.v1.TaskService/UpdateTask",
      "content-type": "application/grpc",
      "grpc-encoding": "gzip",
      te: "trailers",
    });
    compressed.on("error", () => {});
    const prefix = Buffer.from([1, 0, 0, 0, 0]);
    prefix.writeUInt32BE(1000, 1);
    compressed.write(Buffer.concat([prefix, Buffer.alloc(500)]));
    const stream = h.client.tasks.dispatch();
    stream.on("error", () => {});
    try {
      await eventually(inHand, (bytes) => bytes > BUDGET * 1.125);
      const small = await complete(call!.task, "{}");
      assert.equal(small.ok ? "OK" : small.code, "RESOURCE_EXHAUSTED", "past an eighth over the budget a small call is refused too");
      const pushed = new Promise<LeasedTask | undefined>((resolve, reject) => {
        stream.once("data", (m: { task?: LeasedTask }) => resolve(m.task));
        stream.once("error", reject);
      });
      stream.write({ kind: { case: "subscribe", value: { taskTypes: ["large_result"], workerId: "streamer", domain: "" } } });
      stream.write({ kind: { case: "credits", value: 1 } });
      assert.equal((await pushed)?.workflowId, runId, "the stream's subscription and credits were taken");
    } finally {
      stream.cancel();
      session.destroy();
    }
    await eventually(inHand, (bytes) => bytes === 0);
  });

  it("is set by BATON_REQUEST_BYTES, a whole number of bytes of at least 1 MiB", () => {
    assert.deepEqual(serverOptionsFromEnv({ BATON_REQUEST_BYTES: String(256 * MiB) }).requestBudget, { totalBytes: 256 * MiB });
    assert.equal(serverOptionsFromEnv({}).requestBudget, undefined);
    for (const bad of ["0", "1000", "64MiB", "-1", "1e9"])
      assert.throws(() => serverOptionsFromEnv({ BATON_REQUEST_BYTES: bad }), /BATON_REQUEST_BYTES must be a whole number of bytes, at least 1048576/);
  });
});
