// Access control: API keys in `authorization: Bearer`, roles, worker scopes,
// revocation, keys stored hashed, and no secret in the server's log.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { BatonClient } from "@baton/client";
import { TaskStatus, grpc, type LeasedTask } from "@baton/protocol";
import { callKeyService, type CreateKeyResponse, type ListKeysResponse } from "@baton/server";
import { eventually } from "../support/harness.js";
import { codeOf, startSecureServer, type SecureServer } from "./support.js";
import { flowOf } from "../support/flows.js";

let s: SecureServer;
const keys: Record<string, string> = {};
const clients: Record<string, BatonClient> = {};

const flow = flowOf("sec_encode_flow", [
  { name: "encode", taskReferenceName: "encode", type: "SIMPLE" },
  { name: "notify", taskReferenceName: "notify", type: "SIMPLE" },
]);

async function newKey(role: "admin" | "publisher" | "operator" | "worker" | "reader", taskTypes: string[] = [], name: string = role): Promise<string> {
  return (await s.registry.create({ role, taskTypes, name })).key;
}

async function poll(client: BatonClient, taskType: string, waitMs = 2000): Promise<LeasedTask | undefined> {
  return (await client.tasks.poll({ taskType, workerId: "sec-worker", count: 1, waitMs: BigInt(waitMs) })).tasks[0];
}

function result(task: LeasedTask, status: keyof typeof TaskStatus = "COMPLETED") {
  return { taskId: task.taskId, leaseToken: task.leaseToken, status: TaskStatus[status], outputJson: "{}", workerId: "sec-worker" };
}

function keyCall<T>(key: string | undefined, method: "createKey" | "listKeys" | "revokeKey", request: object): Promise<T> {
  const client = s.client(key);
  const metadata = new grpc.Metadata();
  if (key) metadata.set("authorization", `Bearer ${key}`);
  return callKeyService<T>(client.channel, method, request, metadata);
}

before(async () => {
  s = await startSecureServer();
  keys["admin"] = await newKey("admin");
  keys["publisher"] = await newKey("publisher");
  keys["operator"] = await newKey("operator");
  keys["reader"] = await newKey("reader");
  keys["encoder"] = await newKey("worker", ["encode"], "encoder");
  keys["notifier"] = await newKey("worker", ["notify"], "notifier");
  keys["any"] = await newKey("worker", ["*"], "any-type");
  for (const [name, key] of Object.entries(keys)) clients[name] = s.client(key);
});
after(() => s.close());

describe("authentication", () => {
  it("refuses a call without a key", async () => {
    assert.equal(await codeOf(s.client().metadata.listWorkflowDefs({})), "UNAUTHENTICATED");
    assert.equal(await codeOf(s.client().workflows.searchWorkflows({})), "UNAUTHENTICATED");
  });

  it("refuses malformed, unknown and forged keys", async () => {
    assert.equal(await codeOf(s.client("not-a-key").metadata.listWorkflowDefs({})), "UNAUTHENTICATED");
    const unknown = `bk_${"a".repeat(12)}_${"x".repeat(43)}`;
    assert.equal(await codeOf(s.client(unknown).metadata.listWorkflowDefs({})), "UNAUTHENTICATED");
    // A real key id with someone else's secret.
    const real = keys["reader"]!;
    const forged = real.slice(0, real.lastIndexOf("_") + 1) + "y".repeat(43);
    assert.notEqual(forged, real);
    assert.equal(await codeOf(s.client(forged).metadata.listWorkflowDefs({})), "UNAUTHENTICATED");
  });

  it("refuses a worker stream without a key", async () => {
    const stream = s.client().tasks.dispatch();
    const code = await new Promise<number>((resolve) => {
      stream.on("error", (error: { code: number }) => resolve(error.code));
      stream.on("data", () => resolve(-1));
      stream.write({ kind: { case: "subscribe", value: { taskTypes: ["encode"], workerId: "w", domain: "" } } });
    });
    assert.equal(grpc.status[code], "UNAUTHENTICATED");
  });

  it("refuses a key revoked through the server at once, even while cached", async () => {
    const key = await newKey("reader", [], "short-lived");
    const client = s.client(key);
    await client.metadata.listWorkflowDefs({}); // cached now
    const id = key.split("_")[1]!;
    assert.deepEqual(await keyCall(keys["admin"], "revokeKey", { id }), { revoked: true });
    assert.equal(await codeOf(client.metadata.listWorkflowDefs({})), "UNAUTHENTICATED");
    assert.deepEqual(await keyCall(keys["admin"], "revokeKey", { id }), { revoked: false });
  });

  it("refuses a key revoked directly in the database (another replica, or `baton keys revoke --database-url`)", async () => {
    const key = await newKey("reader", [], "revoked-elsewhere");
    const client = s.client(key);
    await client.metadata.listWorkflowDefs({});
    await s.registry.revoke(key.split("_")[1]!);
    // NOTIFY drops the cached copy; the cache's bound (1 s) would too. No timing asserted.
    await eventually(
      () => codeOf(client.metadata.listWorkflowDefs({})),
      (code) => code === "UNAUTHENTICATED",
    );
  });
});

describe("roles", () => {
  it("lets a publisher register and validate definitions, and nobody else but admin", async () => {
    const taskDefs = [
      { name: "encode", retryCount: 0, responseTimeoutSeconds: 60 },
      { name: "notify", retryCount: 0, responseTimeoutSeconds: 60 },
    ];
    await clients["publisher"]!.registerTaskDefs(taskDefs);
    await clients["publisher"]!.registerWorkflowDef(flow);
    assert.equal((await clients["publisher"]!.validateWorkflowDef(flow)).valid, true);
    assert.equal((await clients["publisher"]!.getWorkflowDef(flow.name))["name"], flow.name);
    for (const who of ["operator", "reader", "encoder"]) {
      assert.equal(await codeOf(clients[who]!.registerWorkflowDef(flow)), "PERMISSION_DENIED", who);
      assert.equal(await codeOf(clients[who]!.registerTaskDefs(taskDefs)), "PERMISSION_DENIED", who);
    }
    await clients["admin"]!.registerWorkflowDef(flow);
  });

  it("lets an operator start and operate runs; readers only look", async () => {
    const id = await clients["operator"]!.startWorkflow(flow.name, { n: 1 });
    await clients["operator"]!.pauseWorkflow(id);
    await clients["operator"]!.resumeWorkflow(id);
    assert.equal((await clients["reader"]!.getWorkflow(id)).status, "RUNNING");
    assert.ok((await clients["reader"]!.searchWorkflows({ name: flow.name })).workflows.length >= 1);
    assert.ok((await clients["reader"]!.metadata.listWorkflowDefs({})).definitions.length >= 1);
    await clients["reader"]!.queues();
    assert.equal(await codeOf(clients["reader"]!.startWorkflow(flow.name, {})), "PERMISSION_DENIED");
    assert.equal(await codeOf(clients["reader"]!.terminateWorkflow(id)), "PERMISSION_DENIED");
    assert.equal(await codeOf(clients["publisher"]!.startWorkflow(flow.name, {})), "PERMISSION_DENIED");
    assert.equal(await codeOf(clients["encoder"]!.startWorkflow(flow.name, {})), "PERMISSION_DENIED");
    assert.equal(await codeOf(clients["encoder"]!.getWorkflow(id)), "PERMISSION_DENIED");
    assert.equal(await codeOf(poll(clients["reader"]!, "encode", 10)), "PERMISSION_DENIED");
    assert.equal(await codeOf(poll(clients["operator"]!, "encode", 10)), "PERMISSION_DENIED");
    await clients["operator"]!.terminateWorkflow(id, "test done");
    // The refusal names the roles that may, so the caller knows which key to use.
    const refusal = await clients["reader"]!.startWorkflow(flow.name, {}).catch((e: { details?: string }) => e.details);
    assert.equal(refusal, "role reader may not call baton.v1.WorkflowService/StartWorkflow: a key of role operator or admin may");
  });

  it("keeps key management to admin keys", async () => {
    for (const who of ["publisher", "operator", "reader", "encoder"]) {
      assert.equal(await codeOf(keyCall(keys[who], "listKeys", {})), "PERMISSION_DENIED", who);
      assert.equal(await codeOf(keyCall(keys[who], "createKey", { role: "admin" })), "PERMISSION_DENIED", who);
    }
    assert.equal(await codeOf(keyCall(undefined, "listKeys", {})), "UNAUTHENTICATED");
    const created = await keyCall<CreateKeyResponse>(keys["admin"], "createKey", { role: "worker", taskTypes: ["encode", "notify"], name: "ci" });
    assert.match(created.key, /^bk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(created.record.taskTypes, ["encode", "notify"]);
    assert.equal(created.record.createdBy, `key:${keys["admin"]!.split("_")[1]}`);
    const listed = await keyCall<ListKeysResponse>(keys["admin"], "listKeys", {});
    const mine = listed.keys.find((k) => k.id === created.record.id);
    assert.ok(mine);
    assert.equal(JSON.stringify(listed).includes(created.key.split("_").slice(2).join("_")), false, "lists never carry secrets");
    await s.client(created.key).tasks.poll({ taskType: "notify", workerId: "ci", count: 1, waitMs: 1n });
    assert.equal(await codeOf(keyCall(keys["admin"], "createKey", { role: "worker" })), "INVALID_ARGUMENT");
    assert.equal(await codeOf(keyCall(keys["admin"], "createKey", { role: "root" })), "INVALID_ARGUMENT");
    assert.equal(await codeOf(keyCall(keys["admin"], "revokeKey", { id: "nosuchkey000" })), "NOT_FOUND");
  });
});

describe("worker scopes", () => {
  it("lets a worker poll, update and extend only its own task types", async () => {
    const id = await clients["operator"]!.startWorkflow(flow.name, { n: 2 });
    assert.equal(await codeOf(poll(clients["encoder"]!, "notify", 10)), "PERMISSION_DENIED");
    const encode = await poll(clients["encoder"]!, "encode");
    assert.ok(encode, "the encode worker gets its task");
    await clients["encoder"]!.tasks.extendLease({ taskId: encode.taskId, leaseToken: encode.leaseToken, extendSeconds: 30n });
    await clients["encoder"]!.tasks.addTaskLog({ taskId: encode.taskId, message: "encoding", leaseToken: encode.leaseToken });
    // Someone else's scope cannot touch it.
    assert.equal(await codeOf(clients["notifier"]!.tasks.updateTask({ result: result(encode) })), "PERMISSION_DENIED");
    assert.equal(
      await codeOf(clients["notifier"]!.tasks.extendLease({ taskId: encode.taskId, leaseToken: encode.leaseToken, extendSeconds: 30n })),
      "PERMISSION_DENIED",
    );
    assert.equal(await codeOf(clients["notifier"]!.tasks.addTaskLog({ taskId: encode.taskId, message: "x" })), "PERMISSION_DENIED");
    assert.equal(await codeOf(clients["notifier"]!.tasks.getTaskLogs({ taskId: encode.taskId })), "PERMISSION_DENIED");
    assert.equal((await clients["encoder"]!.tasks.updateTask({ result: result(encode) })).applied, true);

    const notify = await poll(clients["notifier"]!, "notify");
    assert.ok(notify);
    assert.equal(await codeOf(clients["encoder"]!.tasks.updateTask({ result: result(notify) })), "PERMISSION_DENIED");
    assert.equal(await codeOf(clients["encoder"]!.tasks.updateTasks({ results: [result(notify)] })), "PERMISSION_DENIED");
    assert.equal(
      await codeOf(clients["encoder"]!.tasks.extendLease({ taskId: notify.taskId, leaseToken: notify.leaseToken, extendSeconds: 30n })),
      "PERMISSION_DENIED",
    );
    // A "*" worker may work on any type.
    assert.equal((await clients["any"]!.tasks.updateTasks({ results: [result(notify)] })).outcomes[0]?.applied, true);
    assert.equal((await clients["reader"]!.getWorkflow(id)).status, "COMPLETED");
    assert.equal((await clients["reader"]!.tasks.getTaskLogs({ taskId: encode.taskId })).logs[0]?.message, "encoding");
  });

  it("refuses a stream subscribing to a type outside the key's scope, and serves one inside it", async () => {
    const denied = clients["encoder"]!.tasks.dispatch();
    const code = await new Promise<number>((resolve) => {
      denied.on("error", (error: { code: number }) => resolve(error.code));
      denied.on("data", () => resolve(-1));
      denied.write({ kind: { case: "subscribe", value: { taskTypes: ["encode", "notify"], workerId: "w", domain: "" } } });
      denied.write({ kind: { case: "credits", value: 1 } });
    });
    assert.equal(grpc.status[code], "PERMISSION_DENIED");

    const stream = clients["encoder"]!.tasks.dispatch();
    const got = new Promise<LeasedTask>((resolve, reject) => {
      stream.on("data", (message: { task?: LeasedTask }) => message.task && resolve(message.task));
      stream.on("error", reject);
    });
    stream.write({ kind: { case: "subscribe", value: { taskTypes: ["encode"], workerId: "w", domain: "" } } });
    stream.write({ kind: { case: "credits", value: 1 } });
    const id = await clients["operator"]!.startWorkflow(flow.name, { n: 3 });
    const task = await got;
    assert.equal(task.taskType, "encode");
    assert.equal((await clients["encoder"]!.tasks.updateTask({ result: result(task) })).applied, true);
    stream.end();
    stream.cancel();
    await clients["operator"]!.terminateWorkflow(id);
  });
});

describe("keys at rest and in logs", () => {
  it("stores only a SHA-256 of each key", async () => {
    const db = new pg.Client({ connectionString: s.databaseUrl });
    await db.connect();
    try {
      const { rows } = await db.query<{ id: string; secret_hash: string; row: string }>(
        "SELECT id, secret_hash, row_to_json(k)::text AS row FROM baton.api_keys k",
      );
      for (const key of Object.values(keys)) {
        const id = key.split("_")[1]!;
        const row = rows.find((r) => r.id === id);
        assert.ok(row, id);
        assert.equal(row.secret_hash, createHash("sha256").update(key).digest("hex"));
        const secret = key.slice(`bk_${id}_`.length);
        assert.equal(row.row.includes(secret), false, "the secret is nowhere in the row");
      }
    } finally {
      await db.end();
    }
  });

  it("never writes a key or its secret to the log, while logging refusals by key id", async () => {
    // One more refusal with a valid key of the wrong role, so the log has something to say about a real key.
    assert.equal(await codeOf(clients["reader"]!.startWorkflow(flow.name, {})), "PERMISSION_DENIED");
    const log = s.log.text;
    assert.match(log, /request not authenticated/);
    assert.match(log, /request not permitted/);
    assert.ok(log.includes(keys["reader"]!.split("_")[1]!), "refusals name the key id");
    for (const key of Object.values(keys)) {
      assert.equal(log.includes(key), false, "no key in the log");
      assert.equal(log.includes(key.slice(key.indexOf("_", 3) + 1)), false, "no secret in the log");
    }
    assert.equal(/bearer/i.test(log), false, "no authorization header in the log");
  });
});
