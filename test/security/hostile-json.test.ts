// A payload crafted to make JSON parsing slow cannot stall the server: parsing
// is linear in the payload's length for any text, valid or not (issue 14, 1).
// Before, an unterminated string of `\"` pairs after a 16-digit number took
// time quadratic in its length: 2.6 s at 60 KB, tens of minutes at 2 MiB.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { TaskStatus, parseJson } from "@baton/protocol";
import { codeOf, startSecureServer, type SecureServer } from "./support.js";

// Just under the 2 MiB payload limit, so the server has to parse it.
const NEAR_LIMIT = 2 * 1024 * 1024 - 64;

/** The probe: a long integer (which takes the exact-integer path), then an unterminated string of `\"` pairs. */
function probe(bytes: number): string {
  const head = '{"a":1234567890123456,"b":"';
  return head + '\\"'.repeat(Math.floor((bytes - head.length) / 2));
}

// Each test would run for minutes with the quadratic parser; a bounded timeout makes that a failure.
const BOUNDED = { timeout: 60_000 };

describe("parseJson on hostile text", () => {
  it("refuses the unterminated probe at the payload limit, as JSON.parse does", BOUNDED, () => {
    for (const bytes of [NEAR_LIMIT / 2, NEAR_LIMIT]) assert.throws(() => parseJson(probe(bytes)), SyntaxError);
  });

  it("parses the terminated probe at the payload limit and keeps the long integer exact", BOUNDED, () => {
    const text = probe(NEAR_LIMIT - 2) + '"}';
    const value = parseJson(text) as { a: number; b: string };
    assert.equal(value.a, 1234567890123456);
    const pairs = (text.length - '{"a":1234567890123456,"b":"'.length - '"}'.length) / 2;
    assert.equal(value.b, '"'.repeat(pairs));
    // Past 2^53 the integer comes back as an exact BigInt, next to the long string.
    const big = parseJson(`{"b":"${'\\"'.repeat(500_000)}","n":[12345678901234567890123,-9007199254740993]}`) as { n: bigint[] };
    assert.deepEqual(big.n, [12345678901234567890123n, -9007199254740993n]);
  });

  it("refuses other invalid texts holding long integers", BOUNDED, () => {
    for (const text of ['{"a":12345678901234567890', '[12345678901234567890,"\\"', '{"a":"' + "\\\\".repeat(100_000) + '\\"' + "1".repeat(20)]) {
      assert.throws(() => parseJson(text), SyntaxError);
    }
  });
});

describe("the server under the probe", () => {
  let s: SecureServer;
  let worker: string;
  let operator: string;

  before(async () => {
    s = await startSecureServer({ metrics: { port: 0 } });
    worker = (await s.registry.create({ role: "worker", taskTypes: ["*"], name: "prober" })).key;
    operator = (await s.registry.create({ role: "operator", taskTypes: [], name: "operator" })).key;
  });
  after(() => s.close());

  it("refuses the probe in UpdateTask (unknown task id, worker key) and still answers /healthz", BOUNDED, async () => {
    const client = s.client(worker);
    const update = codeOf(
      client.tasks.updateTask({
        result: { taskId: randomUUID(), leaseToken: "x", status: TaskStatus.COMPLETED, outputJson: probe(NEAR_LIMIT), workerId: "prober" },
      }),
    );
    const health = fetch(`http://${s.server.metricsAddress}/healthz`).then((r) => r.status);
    assert.equal(await update, "INVALID_ARGUMENT");
    assert.equal(await health, 200);
    // The server goes on serving ordinary calls.
    assert.equal(await codeOf(client.tasks.poll({ taskType: "nothing_here", workerId: "prober", count: 1, waitMs: 0n })), "OK");
  });

  it("refuses the probe as a run's input (operator key)", BOUNDED, async () => {
    const code = await codeOf(s.client(operator).workflows.startWorkflow({ name: "any_flow", inputJson: probe(NEAR_LIMIT) }));
    assert.equal(code, "INVALID_ARGUMENT");
  });
});
