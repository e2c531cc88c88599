// A payload or body whose objects use more distinct key names than any
// payload may is refused from its text, before it is parsed. V8 makes a
// hidden class for each new name: a worker's 2 MiB output of 100-key objects
// under fresh names, sent with a random task id, held `/healthz` 1-3.3 s per
// call on this machine, and one object of 136,000 names 0.7 s. The same bytes
// under names repeated from object to object are read as before.
// A real keyed server, its gRPC, REST and console ports.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { TaskStatus } from "@baton/protocol";
import { MAX_JSON_KEY_NAMES } from "../../server/src/service/json-checks.js";
import { startSecureServer, type SecureServer } from "./support.js";
import { largeParses } from "../support/native-parses.js";

let s: SecureServer;
let operatorKey: string;
let workerKey: string;

before(async () => {
  s = await startSecureServer({ conductor: { port: 0 }, console: { port: 0 } });
  operatorKey = (await s.registry.create({ role: "operator", taskTypes: [], name: "names-operator" })).key;
  workerKey = (await s.registry.create({ role: "worker", taskTypes: ["names_type"], name: "names-worker" })).key;
});
after(() => s?.close());

/** About `bytes` of JSON: a list of 100-key objects whose names are all new (`fresh`) or the same 100 in each object. */
function objects(bytes: number, fresh: boolean): string {
  const items: string[] = [];
  let size = 0;
  for (let i = 0; size < bytes; i += 100) {
    const fields = Array.from({ length: 100 }, (_, j) => `"n${fresh ? i + j : j}":${j}`);
    const item = `{${fields.join(",")}}`;
    items.push(item);
    size += item.length + 1;
  }
  return `[${items.join(",")}]`;
}

const FRESH = objects(1_900_000, true);
const REPEATED = objects(1_900_000, false);
const REFUSAL = `distinct key names (each new name costs the server's parser: key such items in a list (e.g. [{"id": …}]) rather than by name)`;

describe("a payload of too many distinct key names", () => {
  it("is refused over gRPC before it is parsed (a worker's output, a start's input), and the same bytes under repeated names are read", async () => {
    const worker = s.client(workerKey);
    const update = (list: string) =>
      largeParses(1_000_000, () =>
        worker.tasks
          .updateTask({ result: { taskId: randomUUID(), leaseToken: "x", status: TaskStatus.COMPLETED, outputJson: `{"rows":${list}}`, workerId: "w" } })
          .catch((e: Error) => e.message),
      );
    const fresh = await update(FRESH);
    assert.equal(fresh.result, `3 INVALID_ARGUMENT: output_json's objects use more than ${MAX_JSON_KEY_NAMES} ${REFUSAL}`);
    assert.equal(fresh.parses, 0, "the output was parsed before its names were counted");
    const repeated = await update(REPEATED);
    assert.doesNotMatch(String(repeated.result), /key names/);
    assert.equal(repeated.parses, 1, "the same bytes under repeated names are parsed");

    const start = await largeParses(1_000_000, () =>
      s
        .client(operatorKey)
        .workflows.startWorkflow({ name: "nowhere", inputJson: `{"rows":${FRESH}}` })
        .catch((e: Error) => e.message),
    );
    assert.equal(start.result, `3 INVALID_ARGUMENT: input_json's objects use more than ${MAX_JSON_KEY_NAMES} ${REFUSAL}`);
    assert.equal(start.parses, 0);
  });

  it("is refused by Conductor's REST port and the console's port before it is parsed", async () => {
    const rest = await largeParses(1_000_000, async () => {
      const res = await fetch(`http://${s.server.conductorAddress}/api/workflow`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${operatorKey}` },
        body: `{"name":"nowhere","input":{"rows":${FRESH}}}`,
      });
      return { status: res.status, body: (await res.json()) as { message: string } };
    });
    assert.equal(rest.result.status, 400);
    assert.equal(rest.result.body.message, `the request body's objects use more than ${MAX_JSON_KEY_NAMES} ${REFUSAL}`);
    assert.equal(rest.parses, 0);

    const connect = await largeParses(1_000_000, async () => {
      const res = await fetch(`${s.server.consoleUrl}/baton.v1.WorkflowService/StartWorkflow`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${operatorKey}` },
        body: `{"name":"nowhere","x":${FRESH}}`,
      });
      return { status: res.status, body: (await res.json()) as { code: string; message: string } };
    });
    assert.equal(connect.result.status, 400);
    assert.equal(connect.result.body.code, "invalid_argument");
    assert.equal(connect.result.body.message, `the request body's objects use more than ${MAX_JSON_KEY_NAMES} ${REFUSAL}`);
    assert.equal(connect.parses, 0);
  });
});
