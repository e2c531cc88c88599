// A body nested deeper than any payload may be is refused from its text,
// before it is parsed. Parsing megabytes of nested lists costs the parser
// about a microsecond a level on the serving thread: a 5 MB REST body of them
// held `/healthz` for 2.8 s, a 10 MB Connect JSON body on the console's port
// 4.2 s, and a worker's 2 MiB output of them over gRPC 1-2.5 s, only to be
// refused for its depth. Now no door hands such a text to JSON.parse at all.
// A real keyed server, its gRPC, REST and console ports.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { TaskStatus } from "@baton/protocol";
import { startSecureServer, type SecureServer } from "./support.js";
import { largeParses } from "../support/native-parses.js";

let s: SecureServer;
let operatorKey: string;
const LEVELS = 200_000;

before(async () => {
  s = await startSecureServer({ conductor: { port: 0 }, console: { port: 0 } });
  operatorKey = (await s.registry.create({ role: "operator", taskTypes: [], name: "deep-operator" })).key;
});
after(() => s?.close());

const nested = (levels: number) => "[".repeat(levels) + "]".repeat(levels);

describe("a body nested too deep", () => {
  it("is refused by Conductor's REST port without being parsed", async () => {
    const body = `{"name":"nowhere","input":{"x":${nested(LEVELS)}}}`;
    const { result, parses } = await largeParses(LEVELS, async () => {
      const res = await fetch(`http://${s.server.conductorAddress}/api/workflow`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${operatorKey}` },
        body,
      });
      return { status: res.status, body: (await res.json()) as { message: string } };
    });
    assert.equal(result.status, 400);
    assert.equal(result.body.message, "the request body nests deeper than 110 levels (payloads and definitions may nest 100)");
    assert.equal(parses, 0, "the body was parsed before its depth was known");
  });

  it("is refused by the console's port (Connect JSON) without being parsed", async () => {
    const body = `{"name":"nowhere","x":${nested(LEVELS)}}`;
    const { result, parses } = await largeParses(LEVELS, async () => {
      const res = await fetch(`${s.server.consoleUrl}/baton.v1.WorkflowService/StartWorkflow`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${operatorKey}` },
        body,
      });
      return { status: res.status, body: (await res.json()) as { code: string; message: string } };
    });
    assert.equal(result.status, 400);
    assert.equal(result.body.code, "invalid_argument");
    assert.equal(result.body.message, "the request body nests deeper than 110 levels (payloads and definitions may nest 100)");
    assert.equal(parses, 0, "the body was parsed before its depth was known");
  });

  it("a body within the depth, with brackets inside its strings, is read as before", async () => {
    const res = await fetch(`${s.server.consoleUrl}/baton.v1.WorkflowService/SearchWorkflows`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${operatorKey}` },
      body: JSON.stringify({ name: `${"[".repeat(300)}\\"{`, pageSize: 1 }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    assert.deepEqual(await res.json(), {});
  });

  it("a payload field over gRPC is refused without being parsed: a large output and a start's input", async () => {
    const worker = s.client((await s.registry.create({ role: "worker", taskTypes: ["deep_type"], name: "deep-worker" })).key);
    const levels = 1_000_000; // 2 MB: a worker's output may be 2 MiB
    const output = `{"x":${nested(levels)}}`;
    const update = await largeParses(levels, () =>
      worker.tasks
        .updateTask({ result: { taskId: randomUUID(), leaseToken: "x", status: TaskStatus.COMPLETED, outputJson: output, workerId: "w" } })
        .catch((e: Error) => e.message),
    );
    assert.equal(update.result, "3 INVALID_ARGUMENT: output_json nests deeper than 100 levels");
    assert.equal(update.parses, 0, "the output was parsed before its depth was known");
    const operator = s.client(operatorKey);
    const start = await largeParses(LEVELS / 4, () =>
      operator.workflows.startWorkflow({ name: "nowhere", inputJson: `{"x":${nested(LEVELS / 4)}}` }).catch((e: Error) => e.message),
    );
    assert.equal(start.result, "3 INVALID_ARGUMENT: input_json nests deeper than 100 levels");
    assert.equal(start.parses, 0, "the input was parsed before its depth was known");
  });
});
