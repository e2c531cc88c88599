// Revoking a key ends every call open under it, on every replica (issue 14, 3).
// Before, a Dispatch stream opened with a key went on receiving tasks, input
// and all, after the key was revoked. Two replicas share one database: the
// key is revoked through one, its calls are open on the other.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { BatonClient, Worker } from "@baton/client";
import { grpc, type DispatchResponse } from "@baton/protocol";
import { callKeyService, createLogger, startServer, type BatonServer } from "@baton/server";
import { eventually } from "../support/harness.js";
import { codeOf, startSecureServer, type SecureServer } from "./support.js";
import { flowOf } from "../support/flows.js";

const flow = flowOf("revocation_flow", [
  { name: "secret_work", taskReferenceName: "work", type: "SIMPLE", inputParameters: { secret: "${workflow.input.secret}" } },
]);

let a: SecureServer; // the replica the key is revoked through
let b: BatonServer; // the replica the key's calls are open on
let admin: string;
let operator: BatonClient;
const clients: BatonClient[] = [];

function clientOfB(key: string): BatonClient {
  const client = new BatonClient({ address: b.address, token: key, tls: false });
  clients.push(client);
  return client;
}

/** A raw Dispatch stream: every task it receives, and how it ended. */
function openStream(client: BatonClient, taskType: string, credits = 10) {
  const stream = client.tasks.dispatch();
  const tasks: DispatchResponse[] = [];
  const ended = new Promise<string>((resolve) => {
    stream.on("data", (message: DispatchResponse) => tasks.push(message));
    stream.on("error", (error: { code: number }) => resolve(grpc.status[error.code] ?? String(error.code)));
    stream.on("end", () => resolve("OK"));
  });
  stream.write({ kind: { case: "subscribe", value: { taskTypes: [taskType], workerId: "revoked-worker", domain: "" } } });
  stream.write({ kind: { case: "credits", value: credits } });
  return { stream, tasks, ended };
}

async function revokeThroughA(key: string): Promise<void> {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${admin}`);
  await callKeyService(a.client(admin).channel, "revokeKey", { id: key.split("_")[1]! }, metadata);
}

async function workerKey(name: string): Promise<string> {
  return (await a.registry.create({ role: "worker", taskTypes: ["secret_work"], name })).key;
}

before(async () => {
  a = await startSecureServer();
  b = await startServer({
    databaseUrl: a.databaseUrl,
    port: 0,
    clock: a.clock,
    logger: createLogger("silent"),
    auth: { mode: "required" },
    conductor: { port: 0 },
  });
  admin = (await a.registry.create({ role: "admin", name: "admin" })).key;
  operator = a.client((await a.registry.create({ role: "operator", name: "operator" })).key);
  await a.client(admin).registerTaskDefs([{ name: "secret_work", retryCount: 0, responseTimeoutSeconds: 3600 }]);
  await a.client(admin).registerWorkflowDef(flow);
});
after(async () => {
  for (const c of clients) c.close();
  await b.close();
  await a.close();
});

// Without the fix a revoked key's stream never ends: a bounded test fails instead of hanging.
const BOUNDED = { timeout: 30_000 };

describe("revoking a key", () => {
  it("ends its open Dispatch stream and long poll on another replica, and no task reaches them after", BOUNDED, async () => {
    const key = await workerKey("to-revoke");
    const client = clientOfB(key);
    const open = openStream(client, "secret_work");
    // The stream works: it receives a task.
    await operator.startWorkflow(flow.name, { secret: "before" });
    await eventually(
      async () => open.tasks.length,
      (n) => n === 1,
    );
    const poll = codeOf(client.tasks.poll({ taskType: "secret_work", workerId: "revoked-worker", count: 1, waitMs: 60_000n }));

    await revokeThroughA(key);
    assert.equal(await open.ended, "UNAUTHENTICATED");
    assert.equal(await poll, "UNAUTHENTICATED");
    // A task made now is not handed to the revoked key's calls, and a new stream is refused.
    await operator.startWorkflow(flow.name, { secret: "after" });
    const again = openStream(client, "secret_work");
    assert.equal(await again.ended, "UNAUTHENTICATED");
    assert.equal(open.tasks.length, 1);
    assert.equal(JSON.parse(open.tasks[0]!.task!.inputJson).secret, "before");
  });

  it("ends its long poll on Conductor's REST port on another replica", BOUNDED, async () => {
    // It waited out its timeout (up to 5 minutes) and could be handed a task meanwhile.
    const key = (await a.registry.create({ role: "worker", taskTypes: ["rest_work"], name: "rest-to-revoke" })).key;
    const polled = fetch(`http://${b.conductorAddress}/api/tasks/poll/batch/rest_work?workerid=rest-revoked&count=1&timeout=60000`, {
      headers: { authorization: `Bearer ${key}` },
    }).then(async (r) => `${r.status} ${await r.text()}`);
    // Admitted and waiting: the replica lists the long poller with its slot.
    await eventually(
      async () => (await clientOfB(admin).tasks.listWorkers({})).workers.some((w) => w.workerId === "rest-revoked" && w.freeSlots > 0n),
      (waiting) => waiting,
    );
    await revokeThroughA(key);
    assert.match(await polled, /^401 /);
  });

  it("ends the stream at its next message when the key was revoked without a notification", BOUNDED, async () => {
    const key = await workerKey("revoked-quietly");
    const open = openStream(clientOfB(key), "secret_work", 1);
    // The stream is admitted and working: it receives a task.
    await operator.startWorkflow(flow.name, { secret: "quiet" });
    await eventually(
      async () => open.tasks.length,
      (n) => n === 1,
    );
    // Revoked in the database directly, with no NOTIFY: only the check on each message can see it.
    const db = new pg.Client({ connectionString: a.databaseUrl });
    await db.connect();
    try {
      await db.query("UPDATE baton.api_keys SET revoked_at = 1 WHERE id = $1", [key.split("_")[1]]);
    } finally {
      await db.end();
    }
    // Each credits message re-reads the key (kept for at most the cache's second).
    const credit = setInterval(() => open.stream.write({ kind: { case: "credits", value: 1 } }), 100);
    try {
      assert.equal(await open.ended, "UNAUTHENTICATED");
    } finally {
      clearInterval(credit);
    }
  });
});

describe("stream age", () => {
  it("ends a stream past its maximum age; the worker opens a new one and goes on working", BOUNDED, async () => {
    const client = clientOfB(await workerKey("long-lived"));
    const seen: string[] = [];
    const errors: string[] = [];
    const worker = new Worker({ client, workerId: "aging", onError: (error) => errors.push(grpc.status[(error as { code: number }).code] ?? String(error)) });
    worker.handle<{ secret: string }>("secret_work", async (input) => {
      seen.push(input.secret);
      return {};
    });
    worker.start();
    try {
      // The worker's stream is open and working.
      const first = await operator.startWorkflow(flow.name, { secret: "first" });
      await eventually(
        () => operator.getWorkflow(first),
        (run) => run.status === "COMPLETED",
      );
      assert.deepEqual(errors, [] as string[]);
      a.clock.advance(60 * 60 * 1000 + 1); // past the default hour
      await eventually(
        async () => errors,
        (e) => e.includes("UNAVAILABLE"),
      );
      // It reconnects and gets the next task.
      const id = await operator.startWorkflow(flow.name, { secret: "later" });
      await eventually(
        () => operator.getWorkflow(id),
        (run) => run.status === "COMPLETED",
      );
      assert.ok(seen.includes("later"));
    } finally {
      await worker.stop();
    }
  });
});
