// Conductor's REST API behind the same keys and roles as gRPC: Bearer or
// Conductor's X-Authorization header, /api/token, and a worker key scoped to
// task types that cannot poll or update others.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { openKeyRegistry } from "@baton/server";
import { fixture } from "../conformance/support.js";
import { call, INTEGRATION_TASK_DEFS, startRestServer, type RestServer } from "./support.js";

let s: RestServer;
let keys: Awaited<ReturnType<typeof openKeyRegistry>>;
let admin: string;
let worker: string;
let reader: string;

before(async () => {
  s = await startRestServer({ auth: { mode: "required", cacheMs: 0 } });
  keys = await openKeyRegistry(s.databaseUrl);
  admin = (await keys.registry.create({ role: "admin", name: "admin" })).key;
  worker = (await keys.registry.create({ role: "worker", name: "w1", taskTypes: ["integration_task_1"] })).key;
  reader = (await keys.registry.create({ role: "reader", name: "r" })).key;
  const auth = { "X-Authorization": admin };
  assert.equal((await call(s.base, "POST", "/api/metadata/taskdefs", INTEGRATION_TASK_DEFS, auth)).status, 200);
  assert.equal((await call(s.base, "POST", "/api/metadata/workflow", fixture("simple_workflow_1_integration_test.json"), auth)).status, 200);
});
after(async () => {
  await keys.close();
  await s.close();
});

test("no key is 401, a wrong role 403, with Conductor's error body; Bearer and X-Authorization both work", async () => {
  const none = await call(s.base, "GET", "/api/metadata/taskdefs");
  assert.equal(none.status, 401);
  assert.equal(none.json.status, 401);
  assert.equal((await call(s.base, "GET", "/api/metadata/taskdefs", undefined, { Authorization: `Bearer ${reader}` })).status, 200);
  assert.equal((await call(s.base, "GET", "/api/metadata/taskdefs", undefined, { "X-Authorization": reader })).status, 200);
  const start = await call(s.base, "POST", "/api/workflow/integration_test_wf", {}, { "X-Authorization": reader });
  assert.equal(start.status, 403);
  assert.match(start.json.message, /role reader/);
  assert.equal((await call(s.base, "GET", "/health")).status, 200);
});

test("/api/token trades a key id and secret for the token the SDKs send", async () => {
  const [, id, secret] = /^bk_([a-z0-9]+)_(.+)$/.exec(reader)!;
  const token = await call(s.base, "POST", "/api/token", { keyId: id, keySecret: secret });
  assert.equal(token.status, 200);
  assert.equal((await call(s.base, "GET", "/api/metadata/taskdefs", undefined, { "X-Authorization": token.json.token })).status, 200);
  const wrong = await call(s.base, "POST", "/api/token", { keyId: id, keySecret: "x".repeat(43) });
  assert.equal(wrong.status, 401);
});

test("a worker key scoped to a task type cannot poll or update others over REST", async () => {
  const w = { "X-Authorization": worker };
  const a = { "X-Authorization": admin };
  const id = (await call(s.base, "POST", "/api/workflow/integration_test_wf", { param1: "x" }, a)).text;
  const other = await call(s.base, "GET", "/api/tasks/poll/batch/integration_task_2?count=1&timeout=10", undefined, w);
  assert.equal(other.status, 403);
  assert.match(other.json.message, /integration_task_2/);
  const mine = await call(s.base, "GET", "/api/tasks/poll/batch/integration_task_1?workerid=w1&count=1&timeout=5000", undefined, w);
  assert.equal(mine.json.length, 1);
  const t1 = mine.json[0];
  assert.equal(
    (await call(s.base, "POST", "/api/tasks", { taskId: t1.taskId, workflowInstanceId: id, status: "COMPLETED", workerId: "w1" }, w)).text,
    t1.taskId,
  );
  // The next task is integration_task_2: polled by the admin, and out of this key's reach.
  const t2 = (await call(s.base, "GET", "/api/tasks/poll/batch/integration_task_2?workerid=adm&count=1&timeout=5000", undefined, a)).json[0];
  const refused = await call(s.base, "POST", "/api/tasks", { taskId: t2.taskId, workflowInstanceId: id, status: "COMPLETED", workerId: "adm" }, w);
  assert.equal(refused.status, 403);
  const run = await call(s.base, "GET", `/api/workflow/${id}`, undefined, a);
  assert.equal(run.json.tasks[1].status, "IN_PROGRESS");
  const logRefused = await call(s.base, "POST", `/api/tasks/${t2.taskId}/log`, JSON.stringify("x"), w);
  assert.equal(logRefused.status, 403);
});
