// Every gRPC method of the contract with random bytes (a raw grpc-js client
// with identity serializers) and random well-typed requests (BatonClient's
// typed clients): only typed errors come back (never INTERNAL or UNKNOWN), the
// server keeps answering, and a refused registration stores nothing.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { BatonClient } from "@baton/client";
import { create, toBinary, type DescMethod, type DescService, type MessageInitShape } from "@bufbuild/protobuf";
import { DispatchRequestSchema, EventService, grpc, MetadataService, TaskService, WorkflowService } from "@baton/protocol";
import pg from "pg";
import { freshDatabase, stopCluster } from "../support/database.js";
import { startServerProcess, stopServer, type ServerProc } from "../faults/lib/server.js";
import { figures, report } from "../faults/lib/report.js";
import { fuzzRuns, taskDef, workflowDef } from "./arbitraries.js";
import { message } from "./messages.js";
import { flowOf } from "../support/flows.js";

const SERVICES: DescService[] = [MetadataService, WorkflowService, TaskService, EventService];
const METHODS = SERVICES.flatMap((s) => s.methods.map((m) => ({ service: s, method: m as DescMethod, path: `/${s.typeName}/${m.name}` })));
/** Methods that may block by design (a long poll or a wait): a deadline there is no fault. */
const WAITING = new Set(["Poll", "WaitWorkflow", "ExecuteWorkflow", "Dispatch", "WatchWorkflow", "WatchWorkflows"]);
const S = grpc.status;
const TYPED = new Set([
  S.OK,
  S.INVALID_ARGUMENT,
  S.NOT_FOUND,
  S.FAILED_PRECONDITION,
  S.ALREADY_EXISTS,
  S.OUT_OF_RANGE,
  S.UNAUTHENTICATED,
  S.PERMISSION_DENIED,
  S.RESOURCE_EXHAUSTED,
  S.ABORTED,
]);

let databaseUrl: string;
let server: ServerProc;
let raw: grpc.Client;
let client: BatonClient;
let db: pg.Client;
const tally = new Map<string, number>();
/** Answers that are no typed error: fatal ones (the server is gone or broke the protocol) and INTERNALs. */
const fatal: string[] = [];
const internals = new Map<string, { count: number; example: string }>();
let cases = 0;

function count(method: string, code: number, details: string, input: string): void {
  cases++;
  const key = `${method}:${S[code] ?? code}`;
  tally.set(key, (tally.get(key) ?? 0) + 1);
  const waitingDeadline = code === S.DEADLINE_EXCEEDED && WAITING.has(method);
  const streamCancelled = code === S.CANCELLED && method === "Dispatch";
  if (TYPED.has(code) || waitingDeadline || streamCancelled) return;
  if (code === S.INTERNAL) {
    // One entry per method and kind of message (ids and quoted values blanked out).
    const kind = `${method}: ${details
      .replace(/"[^"]*"/g, '"…"')
      .replace(/[0-9a-f-]{36}/g, "<id>")
      .replace(/\d+/g, "N")
      .slice(0, 160)}`;
    const entry = internals.get(kind) ?? { count: 0, example: input.slice(0, 300) };
    entry.count++;
    internals.set(kind, entry);
    return;
  }
  if (fatal.length < 50) fatal.push(`${method} -> ${S[code] ?? code} ${details.slice(0, 200)} (request ${input.slice(0, 200)})`);
}

before(async () => {
  databaseUrl = await freshDatabase();
  server = await startServerProcess({ databaseUrl, logLevel: "error" });
  raw = new grpc.Client(server.address, grpc.credentials.createInsecure(), { "grpc.max_send_message_length": 64 * 1024 * 1024 });
  client = new BatonClient({ address: server.address });
  db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  // Something to find: a definition, a task definition and a run.
  await client.registerTaskDefs([{ name: "fz_task", retryCount: 0, responseTimeoutSeconds: 5 }]);
  await client.registerWorkflowDef(flowOf("fz_flow", [{ name: "fz_task", taskReferenceName: "t", type: "SIMPLE" }]));
  await client.startWorkflow("fz_flow", {});
});

after(async () => {
  report(
    figures("gRPC fuzz (all methods)", `${cases} calls`, "random bytes + random typed requests", undefined, {
      internalKinds: internals.size,
      fatal: fatal.length,
      serverAlive: server.child.exitCode === null,
    }),
  );
  await db.end();
  raw.close();
  client.close();
  await stopServer(server, "SIGTERM");
  await stopCluster();
});

/** Definitions that are right: so the "accepted is stored" half is exercised too. */
const validDef = fc.array(fc.constantFrom("fz_task", "fz_other"), { minLength: 1, maxLength: 4 }).map(
  (names) =>
    flowOf(
      "x",
      names.map((n, i) => ({ name: n, taskReferenceName: `r${i}`, type: "SIMPLE" })),
    ) as Record<string, unknown>,
);
const validTaskDef = fc
  .record({ name: fc.constant("x"), retryCount: fc.nat(5), responseTimeoutSeconds: fc.integer({ min: 1, max: 60 }) })
  .map((d) => d as Record<string, unknown>);

const identity = (b: Buffer) => b;

/** One raw call with `bytes` as the request body; resolves with the status code. */
function rawCall(path: string, bidi: boolean, bytes: Buffer): Promise<{ code: number; details: string }> {
  if (bidi) return streamStatus(path, [bytes], { deadlineMs: 3000, cancelAfterMs: 100 });
  return new Promise((resolve) => {
    raw.makeUnaryRequest(path, identity, identity, bytes, new grpc.Metadata(), { deadline: Date.now() + 3000 }, (error) =>
      resolve({ code: error?.code ?? S.OK, details: error?.details ?? "" }),
    );
  });
}

/**
 * The status a bidi stream ends with after `messages` (raw bodies). Without
 * cancelAfterMs the stream is left open, so a status that never comes is a deadline.
 */
function streamStatus(path: string, messages: Buffer[], opts: { deadlineMs: number; cancelAfterMs?: number }): Promise<{ code: number; details: string }> {
  return new Promise((resolve) => {
    const call = raw.makeBidiStreamRequest(path, identity, identity, new grpc.Metadata(), { deadline: Date.now() + opts.deadlineMs });
    let settled = false;
    const done = (code: number, details: string) => {
      if (!settled) {
        settled = true;
        resolve({ code, details });
      }
    };
    call.on("data", () => {});
    call.on("error", (e: grpc.ServiceError) => done(e.code, e.details));
    call.on("status", (s: grpc.StatusObject) => done(s.code, s.details));
    for (const bytes of messages) call.write(bytes);
    if (opts.cancelAfterMs !== undefined) setTimeout(() => call.cancel(), opts.cancelAfterMs);
  });
}

const dispatchStatus = (messages: Buffer[]) => streamStatus("/baton.v1.TaskService/Dispatch", messages, { deadlineMs: 20_000 });

const dispatchRequest = (kind: NonNullable<MessageInitShape<typeof DispatchRequestSchema>["kind"]>) =>
  Buffer.from(toBinary(DispatchRequestSchema, create(DispatchRequestSchema, { kind })));

/** Is the server still there? */
async function alive(): Promise<void> {
  const queues = await client.tasks.listQueues({}, { deadline: 5000 });
  assert.ok(Array.isArray(queues.queues));
}

describe("gRPC methods on hostile requests", () => {
  it("random bytes: no crash, no UNKNOWN/UNAVAILABLE, and the server keeps answering (INTERNALs: see the last test)", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...METHODS),
        fc.oneof(
          fc.uint8Array({ maxLength: 256 }),
          // A valid message, then truncated or with a byte flipped: the nastiest near-misses.
          fc.tuple(fc.constantFrom(...METHODS), fc.nat(), fc.nat()).chain(([m, cut, flip]) =>
            message(m.method.input).map((init) => {
              const bytes = toBinary(m.method.input, create(m.method.input, init as never));
              const out = bytes.slice(0, bytes.length ? cut % (bytes.length + 1) : 0);
              const at = flip % (out.length || 1);
              if (out.length) out[at] = out[at]! ^ 0xff;
              return out;
            }),
          ),
        ),
        async (m, bytes) => {
          const { code, details } = await rawCall(m.path, m.method.methodKind === "bidi_streaming", Buffer.from(bytes));
          count(m.method.name, code, details, Buffer.from(bytes).toString("hex"));
        },
      ),
      { numRuns: fuzzRuns(400) },
    );
    await alive();
    assert.deepEqual(fatal, []);
  });

  it("random well-typed requests through BatonClient: no crash, no UNKNOWN/UNAVAILABLE (INTERNALs: see the last test)", async () => {
    const typed = client as unknown as Record<string, Record<string, (req: unknown, opts?: unknown) => Promise<unknown>>>;
    const clientFor = (s: DescService) => (s === MetadataService ? typed["metadata"] : s === WorkflowService ? typed["workflows"] : typed["tasks"])!;
    // One case is a group of concurrent requests, so methods that wait by design
    // (a long poll, WaitWorkflow) overlap instead of adding up; the call count is
    // the same. Those get a short deadline: their validation answers before it.
    const GROUP = 8;
    const one = async ({ m, req }: { m: (typeof METHODS)[number]; req: Record<string, unknown> }) => {
      const deadline = WAITING.has(m.method.name) ? 250 : 3000;
      const input = JSON.stringify(req, (_k, v) => (typeof v === "bigint" ? `${v}n` : v));
      if (m.method.methodKind === "bidi_streaming") {
        const stream = (clientFor(m.service)[m.method.localName] as unknown as (o: unknown) => grpc.ClientDuplexStream<unknown, unknown>)({ deadline });
        const code = await new Promise<number>((resolve) => {
          stream.on("data", () => {});
          stream.on("error", (e: grpc.ServiceError) => resolve(e.code));
          stream.on("status", (s: grpc.StatusObject) => resolve(s.code));
          try {
            stream.write(req);
          } catch {
            resolve(S.INVALID_ARGUMENT); // the client refused to encode it
          }
          setTimeout(() => stream.cancel(), 50);
        });
        count(m.method.name, code, "", input);
        return;
      }
      try {
        await clientFor(m.service)[m.method.localName]!(req, { deadline });
        count(m.method.name, S.OK, "", input);
      } catch (error) {
        const e = error as grpc.ServiceError;
        if (e.code === undefined) return; // refused by the client-side encoder (e.g. an out-of-range enum), never sent
        count(m.method.name, e.code, e.details ?? e.message, input);
      }
    };
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.constantFrom(...METHODS).chain((m) => message(m.method.input).map((req) => ({ m, req }))),
          { minLength: GROUP, maxLength: GROUP },
        ),
        async (group) => {
          await Promise.all(group.map(one));
        },
      ),
      { numRuns: Math.ceil(fuzzRuns(600) / GROUP) },
    );
    await alive();
    assert.deepEqual(fatal, []);
  });

  it("a refused RegisterWorkflowDef or RegisterTaskDefs stores nothing; an accepted one is stored", async () => {
    let n = 0;
    let refused = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(workflowDef, validDef, fc.array(taskDef, { minLength: 1, maxLength: 4 }), fc.array(validTaskDef, { minLength: 1, maxLength: 4 })),
        async (value) => {
          const id = `fzs_${process.pid}_${n++}`;
          if (!Array.isArray(value)) {
            const def = { ...value, name: id };
            try {
              await client.metadata.registerWorkflowDef({ definitionJson: JSON.stringify(def) }, { deadline: 5000 });
              const { rows } = await db.query("SELECT 1 FROM baton.workflow_defs WHERE name = $1", [id]);
              assert.equal(rows.length, 1, "an accepted definition is stored");
            } catch (error) {
              const e = error as grpc.ServiceError;
              if (e.code === undefined) throw error;
              count("RegisterWorkflowDef", e.code, e.details, JSON.stringify(def));
              refused++;
              const { rows } = await db.query("SELECT 1 FROM baton.workflow_defs WHERE name = $1", [id]);
              assert.equal(rows.length, 0, `a refused definition left a row (${S[e.code]})`);
            }
          } else {
            const defs = value.map((d, i) => ({ ...d, name: `${id}_${i}` }));
            try {
              await client.metadata.registerTaskDefs({ taskDefJson: defs.map((d) => JSON.stringify(d)) }, { deadline: 5000 });
              const { rows } = await db.query("SELECT name FROM baton.task_defs WHERE name = ANY($1)", [defs.map((d) => d.name)]);
              assert.equal(rows.length, defs.length, "an accepted batch is stored whole");
            } catch (error) {
              const e = error as grpc.ServiceError;
              if (e.code === undefined) throw error;
              count("RegisterTaskDefs", e.code, e.details, JSON.stringify(defs));
              refused++;
              const { rows } = await db.query("SELECT name FROM baton.task_defs WHERE name = ANY($1)", [defs.map((d) => d.name)]);
              assert.equal(rows.length, 0, "a refused batch left rows");
            }
          }
        },
      ),
      { numRuns: fuzzRuns(300) },
    );
    console.log(`[fuzz] registrations refused: ${refused} of ${n}`);
    assert.ok(refused < n, "some registrations must be accepted for this test to mean anything");
    assert.deepEqual(fatal, []);
  });

  it("an undecodable request body is answered INVALID_ARGUMENT, not INTERNAL", {}, async () => {
    const { code } = await rawCall("/baton.v1.WorkflowService/GetWorkflow", false, Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]));
    assert.equal(S[code], "INVALID_ARGUMENT");
  });

  it("an undecodable message on the Dispatch stream ends it with INVALID_ARGUMENT, not INTERNAL", async () => {
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    const first = await dispatchStatus([garbage]);
    assert.equal(S[first.code], "INVALID_ARGUMENT", first.details);
    assert.match(first.details, /message 1 on the stream could not be decoded as baton\.v1\.DispatchRequest/);
    // After a good subscribe the stream is refused at the bad message, and the subscription goes with it.
    const later = await dispatchStatus([dispatchRequest({ case: "subscribe", value: { taskTypes: ["fz_task"], workerId: "fz" } }), garbage]);
    assert.equal(S[later.code], "INVALID_ARGUMENT", later.details);
    assert.match(later.details, /message 2 on the stream/);
    await alive();
  });

  it("a Dispatch stream used out of order ends with its status, not a hang until the deadline", async () => {
    const subscribe = dispatchRequest({ case: "subscribe", value: { taskTypes: ["fz_task"], workerId: "fz" } });
    const credits = await dispatchStatus([dispatchRequest({ case: "credits", value: 1 })]);
    assert.deepEqual([S[credits.code], credits.details], ["FAILED_PRECONDITION", "send subscribe before credits"]);
    const twice = await dispatchStatus([subscribe, subscribe]);
    assert.deepEqual([S[twice.code], twice.details], ["INVALID_ARGUMENT", "subscribe only once per stream"]);
    const empty = await dispatchStatus([dispatchRequest({ case: "subscribe", value: { taskTypes: [], workerId: "fz" } })]);
    assert.deepEqual([S[empty.code], empty.details], ["INVALID_ARGUMENT", "subscribe needs task_types"]);
  });

  it("no request of any of the cases above is answered INTERNAL", {}, () => {
    const list = [...internals].map(([kind, e]) => `${e.count}x ${kind}  e.g. ${e.example}`);
    for (const line of list) console.log(`[fuzz] INTERNAL ${line}`);
    assert.deepEqual(list, []);
  });
});
