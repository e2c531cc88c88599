// The console's port speaks the Connect protocol over the same gated services
// as the gRPC port: same keys and roles, same refusals worded the same way,
// the console's own calls (counts, watch, workers, who am I), and the page
// itself. A real server on real PostgreSQL, a Connect client over HTTP/1.1.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { create, fromBinary, toBinary, toJsonString } from "@bufbuild/protobuf";
import { GetWorkflowRequestSchema, GetWorkflowResponseSchema, SessionService, TaskService, TaskStatus, WorkflowService, WorkflowStatus } from "@baton/protocol";
import { startSecureServer, type SecureServer } from "../security/support.js";
import { oneLoop } from "../support/flows.js";
import { eventually } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

let s: SecureServer;
let url: string;
const keys: Record<string, string> = {};

const flow = flowOf("console_connect_flow", [{ name: "console_connect_step", taskReferenceName: "step", type: "SIMPLE" }]);

/** Its own task type, so no other test's queued task is polled instead. */
const watched = flowOf("console_watch_flow", [{ name: "console_watch_step", taskReferenceName: "step", type: "SIMPLE" }]);

function clients(key?: string) {
  const auth: Interceptor = (next) => (req) => {
    if (key) req.header.set("authorization", `Bearer ${key}`);
    return next(req);
  };
  const transport = createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors: [auth] });
  return { workflows: createClient(WorkflowService, transport), tasks: createClient(TaskService, transport), session: createClient(SessionService, transport) };
}

async function refusal(promise: Promise<unknown>): Promise<ConnectError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof ConnectError, `expected a ConnectError, got ${String(error)}`);
    return error;
  }
  assert.fail("the call was not refused");
}

before(async () => {
  s = await startSecureServer({ console: { port: 0 } });
  assert.ok(s.server.consoleUrl, "the server reports its console URL");
  url = s.server.consoleUrl;
  for (const role of ["admin", "operator", "reader"] as const) keys[role] = (await s.registry.create({ role, taskTypes: [], name: `console-${role}` })).key;
  const admin = s.client(keys["admin"]);
  await admin.registerTaskDefs([{ name: "console_connect_step" }, { name: "console_watch_step" }]);
  await admin.registerWorkflowDef(flow);
  await admin.registerWorkflowDef(watched);
});
after(() => s?.close());

describe("the console port", () => {
  it("serves the console's page and its bundle, with a policy that allows only its own scripts", async () => {
    const page = await fetch(`${url}/runs/anything`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get("content-security-policy") ?? "", /default-src 'self'/);
    const html = await page.text();
    const script = /src="(\/assets\/app-[^"]+\.js)"/.exec(html)?.[1];
    assert.ok(script, `index.html names the bundle: ${html}`);
    const js = await fetch(`${url}${script}`);
    assert.equal(js.status, 200);
    assert.match(js.headers.get("content-type") ?? "", /javascript/);
    assert.ok((await js.text()).length > 10_000);
    assert.equal((await fetch(`${url}/assets/nope.js`)).status, 404);
  });

  it("asks for a key like the gRPC port: none is refused, a bad one too", async () => {
    const none = await refusal(clients().session.whoAmI({}));
    assert.equal(none.code, Code.Unauthenticated);
    const bad = await refusal(clients("baton_nope").session.whoAmI({}));
    assert.equal(bad.code, Code.Unauthenticated);
  });

  it("says who the caller is", async () => {
    const me = await clients(keys["reader"]).session.whoAmI({});
    assert.equal(me.authRequired, true);
    assert.equal(me.role, "reader");
    assert.equal(me.name, "console-reader");
  });

  it("lets a reader look and refuses it any action, in the gate's words", async () => {
    const operator = clients(keys["operator"]);
    const { workflowId } = await operator.workflows.startWorkflow({ name: flow.name, inputJson: "{}" });
    const reader = clients(keys["reader"]);
    const seen = await reader.workflows.getWorkflow({ workflowId, includeTasks: true });
    assert.equal(seen.workflow?.workflowId, workflowId);
    const denied = await refusal(reader.workflows.terminateWorkflow({ workflowId, reason: "reader tries" }));
    assert.equal(denied.code, Code.PermissionDenied);
    assert.match(denied.rawMessage, /role reader may not call baton\.v1\.WorkflowService\/TerminateWorkflow/);
    const still = await reader.workflows.getWorkflow({ workflowId });
    assert.equal(still.workflow?.status, WorkflowStatus.RUNNING, "the refused call changed nothing");
    await operator.workflows.terminateWorkflow({ workflowId, reason: "cleanup" });
  });

  it("answers an unknown run with NOT_FOUND and a bad filter naming the field", async () => {
    const reader = clients(keys["reader"]);
    const missing = await refusal(reader.workflows.getWorkflow({ workflowId: "00000000-0000-4000-8000-000000000000" }));
    assert.equal(missing.code, Code.NotFound);
    const window = await refusal(reader.workflows.searchWorkflows({ startTimeFromMs: 2000n, startTimeToMs: 1000n }));
    assert.equal(window.code, Code.InvalidArgument);
    assert.match(window.rawMessage, /start_time_from_ms/);
    const id = await refusal(reader.workflows.searchWorkflows({ workflowId: "not-a-run" }));
    assert.match(id.rawMessage, /workflow_id/);
    const version = await refusal(reader.workflows.countWorkflows({ version: 2 }));
    assert.match(version.rawMessage, /version .*name/);
  });

  it("filters by version and run id, pages oldest first, and counts per status", async () => {
    const operator = clients(keys["operator"]);
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      ids.push((await operator.workflows.startWorkflow({ name: flow.name, inputJson: "{}", correlationId: "console-count" })).workflowId);
      s.clock.advance(1);
    }
    const one = await operator.workflows.searchWorkflows({ workflowId: ids[1]! });
    assert.deepEqual(
      one.workflows.map((w) => w.workflowId),
      [ids[1]],
    );
    const first = await operator.workflows.searchWorkflows({ correlationId: "console-count", name: flow.name, version: 1, oldestFirst: true, pageSize: 2 });
    assert.deepEqual(
      first.workflows.map((w) => w.workflowId),
      ids.slice(0, 2),
    );
    const second = await operator.workflows.searchWorkflows({ correlationId: "console-count", oldestFirst: true, pageSize: 2, pageToken: first.nextPageToken });
    assert.deepEqual(
      second.workflows.map((w) => w.workflowId),
      ids.slice(2),
    );
    const none = await operator.workflows.searchWorkflows({ name: flow.name, version: 7 });
    assert.equal(none.workflows.length, 0);
    await operator.workflows.terminateWorkflow({ workflowId: ids[0]!, reason: "one of three" });
    const counts = await operator.workflows.countWorkflows({ correlationId: "console-count" });
    const by = new Map(counts.counts.map((c) => [WorkflowStatus[c.status], Number(c.count)]));
    assert.equal(by.get("RUNNING"), 2);
    assert.equal(by.get("TERMINATED"), 1);
    assert.equal(by.get("COMPLETED"), 0);
    const capped = await operator.workflows.countWorkflows({ correlationId: "console-count", cap: 2n });
    const running = capped.counts.find((c) => c.status === WorkflowStatus.RUNNING);
    assert.equal(running?.capped, true);
  });

  it("watches a run: answers at once with its state, then when a worker moves it", async () => {
    const operator = clients(keys["operator"]);
    const { workflowId } = await operator.workflows.startWorkflow({ name: watched.name, inputJson: "{}" });
    const now = await operator.workflows.watchWorkflow({ workflowId, knownState: "", waitMs: 0n });
    assert.equal(now.changed, true);
    assert.equal(now.workflow?.tasks[0]?.status, TaskStatus.SCHEDULED);
    const quiet = await operator.workflows.watchWorkflow({ workflowId, knownState: now.state, waitMs: 50n });
    assert.equal(quiet.changed, false, "nothing moved: the watch runs out unchanged");
    const moved = operator.workflows.watchWorkflow({ workflowId, knownState: now.state, waitMs: 20_000n });
    const worker = s.client(keys["admin"]);
    const { tasks } = await worker.tasks.poll({ taskType: "console_watch_step", workerId: "console-test-worker", count: 1, waitMs: 5000n });
    const answer = await moved;
    assert.equal(answer.changed, true);
    assert.equal(answer.workflow?.tasks[0]?.status, TaskStatus.IN_PROGRESS);
    assert.equal(answer.workflow?.tasks[0]?.workerId, "console-test-worker");
    assert.ok(Number(answer.workflow?.tasks[0]?.leaseExpiresMs) > 0, "the running attempt shows its lease");
    await worker.tasks.updateTask({ result: { taskId: tasks[0]!.taskId, leaseToken: tasks[0]!.leaseToken, status: TaskStatus.COMPLETED, outputJson: "{}" } });
  });

  it("leaves large task payloads out of a watch when asked, and GetTask gives them whole", async () => {
    const reader = clients(keys["reader"]);
    const operator = clients(keys["operator"]);
    const big = "x".repeat(6000);
    const { workflowId } = await operator.workflows.startWorkflow({ name: watched.name, inputJson: "{}" });
    const whole = await reader.workflows.watchWorkflow({ workflowId, knownState: "", waitMs: 0n });
    const small = whole.workflow!.tasks[0]!;
    assert.equal(small.payloadTrimmed, false);
    // A run whose step carries a large input: trimmed over the limit, whole without one.
    await s.client(keys["admin"]).registerWorkflowDef({ ...watched, name: "console_big_flow", tasks: [{ ...watched.tasks[0]!, inputParameters: { big } }] });
    const runId = (await operator.workflows.startWorkflow({ name: "console_big_flow", inputJson: "{}" })).workflowId;
    const trimmed = await reader.workflows.watchWorkflow({ workflowId: runId, knownState: "", waitMs: 0n, taskPayloadLimit: 4096 });
    const step = trimmed.workflow!.tasks[0]!;
    assert.equal(step.payloadTrimmed, true);
    assert.equal(step.inputJson, "");
    assert.equal(step.outputJson, "");
    const untrimmed = await reader.workflows.watchWorkflow({ workflowId: runId, knownState: "", waitMs: 0n });
    assert.equal(untrimmed.workflow!.tasks[0]!.payloadTrimmed, false);
    assert.equal(JSON.parse(untrimmed.workflow!.tasks[0]!.inputJson).big, big);
    assert.equal(trimmed.state, untrimmed.state, "the state token does not depend on the trim");

    const fetched = await reader.workflows.getTask({ workflowId: runId, taskId: step.taskId });
    assert.equal(fetched.task!.payloadTrimmed, false);
    assert.equal(JSON.parse(fetched.task!.inputJson).big, big);
    assert.equal(fetched.task!.referenceTaskName, "step");
    const wrongRun = await refusal(reader.workflows.getTask({ workflowId, taskId: step.taskId }));
    assert.equal(wrongRun.code, Code.NotFound);
    assert.match(wrongRun.rawMessage, /has no task/);
  });

  it("answers a run of hundreds of tasks in JSON with the text of its binary answer (written in slices)", async () => {
    const admin = s.client(keys["admin"]);
    await admin.registerWorkflowDef(
      oneLoop("console_long_run", { inputParameters: { items: "${workflow.input.items}" }, loopOver: [{ name: "n", taskReferenceName: "n", type: "NOOP" }] }),
    );
    const workflowId = await admin.startWorkflow("console_long_run", { items: Array.from({ length: 150 }, (_, i) => i) });
    await eventually(
      () => admin.getWorkflow(workflowId, { includeTasks: false }),
      (run) => run.status === "COMPLETED",
    );
    const call = (type: string, body: string | Uint8Array) =>
      fetch(`${url}/baton.v1.WorkflowService/GetWorkflow`, {
        method: "POST",
        headers: { "content-type": type, authorization: `Bearer ${keys["reader"]}` },
        body,
      });
    const binary = await call("application/proto", toBinary(GetWorkflowRequestSchema, create(GetWorkflowRequestSchema, { workflowId, includeTasks: true })));
    const reply = fromBinary(GetWorkflowResponseSchema, new Uint8Array(await binary.arrayBuffer()));
    assert.equal(reply.workflow?.tasks.length, 151);
    const json = await call("application/json", JSON.stringify({ workflowId, includeTasks: true }));
    assert.equal(json.status, 200);
    assert.equal(await json.text(), toJsonString(GetWorkflowResponseSchema, reply));
  });

  it("lists the workers connected now, with the task types they serve", async () => {
    const admin = s.client(keys["admin"]);
    const polling = admin.tasks.poll({ taskType: "console_idle_type", workerId: "console-idle-worker", count: 3, waitMs: 5000n });
    // The poll and the listing travel on different connections: wait for the poll to be in.
    const listed = await eventually(
      () => clients(keys["reader"]).tasks.listWorkers({ taskType: "console_idle_type" }),
      (r) => r.workers.length > 0,
      4500,
    );
    assert.deepEqual(
      listed.workers.map((w) => [w.workerId, w.taskTypes, w.kind, Number(w.freeSlots)]),
      [["console-idle-worker", ["console_idle_type"], "poll", 3]],
    );
    await polling;
  });

  it("refuses a call from another site's page", async () => {
    const response = await fetch(`${url}/baton.v1.SessionService/WhoAmI`, {
      method: "POST",
      headers: { "content-type": "application/json", origin: "http://evil.example", authorization: `Bearer ${keys["admin"]}` },
      body: "{}",
    });
    assert.equal(response.status, 403);
  });
});
