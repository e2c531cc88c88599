// The synchronous worker call under the sandbox and jq: answers, deadlines,
// crashes and replacement.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { SyncWorker } from "../../src/scripts/sync-worker.js";

type Request = { op: "echo"; value: unknown } | { op: "spin"; ms: number } | { op: "throw" } | { op: "restart" } | { op: "env" };

// Runs in the worker: self-contained.
function testBody(config: { greeting: string }): (request: Request) => unknown {
  const started = Date.now();
  return (request) => {
    switch (request.op) {
      case "echo":
        return { greeting: config.greeting, value: request.value, started };
      case "spin": {
        const end = Date.now() + request.ms;
        while (Date.now() < end) {
          // busy, as a runaway filter would be
        }
        return "spun";
      }
      case "throw":
        throw new Error("bad request");
      case "restart":
        return { restart: true };
      case "env":
        return Object.keys(process.env).length;
    }
  };
}

describe("SyncWorker", () => {
  it("answers synchronously, and replaces a worker that misses its deadline", async () => {
    const worker = new SyncWorker(testBody, { config: { greeting: "hi" } });
    await worker.start();
    try {
      const first = worker.call({ op: "echo", value: [1, { a: 2 }] }, 1000);
      assert.ok(first.ok);
      assert.deepEqual((first.reply as { value: unknown }).value, [1, { a: 2 }]);

      const start = performance.now();
      const slow = worker.call({ op: "spin", ms: 5000 }, 100);
      assert.deepEqual(slow.ok ? "answered" : slow.reason, "timeout");
      assert.ok(performance.now() - start < 1000);
      assert.equal(worker.restarts, 1);

      const after = worker.call({ op: "echo", value: 1 }, 5000);
      assert.ok(after.ok);
      assert.notEqual((after.reply as { started: number }).started, (first.reply as { started: number }).started, "a new worker");
    } finally {
      await worker.close();
    }
  });

  it("a request that throws ends that worker; the next call gets a new one", async () => {
    const worker = new SyncWorker(testBody, { config: { greeting: "hi" } });
    await worker.start();
    try {
      const bad = worker.call({ op: "throw" }, 1000);
      assert.ok(!bad.ok && bad.reason === "crashed" && bad.detail.includes("bad request"));
      assert.ok(worker.call({ op: "echo", value: 2 }, 5000).ok);
      const restart = worker.call({ op: "restart" }, 1000);
      assert.ok(restart.ok);
      assert.ok(worker.call({ op: "echo", value: 3 }, 5000).ok);
      assert.equal(worker.restarts, 2);
    } finally {
      await worker.close();
    }
  });

  it("the worker sees none of the host's environment", async () => {
    const worker = new SyncWorker(testBody, { config: { greeting: "hi" } });
    await worker.start();
    try {
      const env = worker.call({ op: "env" }, 1000);
      assert.deepEqual(env, { ok: true, reply: 0 });
    } finally {
      await worker.close();
    }
  });

  it("a body that fails to start is reported", async () => {
    const broken = (): (() => unknown) => {
      throw new Error("cannot boot");
    };
    const worker = new SyncWorker(broken, { config: {} });
    await assert.rejects(worker.start(), /did not start: .*cannot boot/);
  });
});
