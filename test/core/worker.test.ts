// The TypeScript worker runtime against a real server: outcomes, the
// concurrency limit, lease extension, reconnecting, and draining on stop.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BatonClient, TerminalError, Worker, inProgress } from "@baton/client";
import { createLogger, startServer, type BatonServer } from "@baton/server";
import { freshDatabase, stopCluster } from "../support/database.js";

let databaseUrl: string;
let server: BatonServer;
let client: BatonClient;

const oneStep = (name: string, taskType: string) => ({
  name,
  version: 1,
  tasks: [{ name: taskType, taskReferenceName: "only", type: "SIMPLE", inputParameters: { value: "${workflow.input.value}" } }],
});

async function serve(port = 0): Promise<BatonServer> {
  return startServer({ databaseUrl, port, logger: createLogger("silent") });
}

before(async () => {
  databaseUrl = await freshDatabase();
  server = await serve();
  client = new BatonClient({ address: server.address });
});
after(async () => {
  client.close();
  await server.close();
  await stopCluster();
});

describe("worker outcomes", () => {
  it("turns return values, thrown errors and TerminalError into task results", async () => {
    await client.registerTaskDefs([{ name: "outcome", retryCount: 0 }]);
    await client.registerWorkflowDef(oneStep("outcomes", "outcome"));
    const worker = new Worker({ address: server.address }).handle<{ value: string }>("outcome", ({ value }) => {
      if (value === "fail") throw new Error("it broke");
      if (value === "terminal") throw new TerminalError("never again");
      return { echoed: value, big: 9007199254740993n };
    });
    worker.start();
    try {
      const ok = await client.executeWorkflow("outcomes", { value: "hi" });
      assert.equal(ok.status, "COMPLETED");
      assert.deepEqual(ok.output, { echoed: "hi", big: 9007199254740993n });
      const failed = await client.executeWorkflow("outcomes", { value: "fail" });
      assert.equal(failed.status, "FAILED");
      assert.equal(failed.tasks[0]!.status, "FAILED");
      assert.equal(failed.tasks[0]!.reasonForIncompletion, "it broke");
      const terminal = await client.executeWorkflow("outcomes", { value: "terminal" });
      assert.equal(terminal.tasks[0]!.status, "FAILED_WITH_TERMINAL_ERROR");
      assert.equal(terminal.tasks[0]!.reasonForIncompletion, "never again");
    } finally {
      await worker.stop();
    }
  });

  it("answers IN_PROGRESS with a callback and finishes on the next delivery", async () => {
    await client.registerWorkflowDef(oneStep("callbacks", "callback_task"));
    let calls = 0;
    const worker = new Worker({ address: server.address }).handle("callback_task", () => (++calls === 1 ? inProgress(1, { step: 1 }) : { step: 2 }));
    worker.start();
    try {
      const run = await client.executeWorkflow("callbacks", {}, { waitMs: 30_000 });
      assert.equal(run.status, "COMPLETED");
      assert.equal(run.tasks.length, 1);
      assert.equal(run.tasks[0]!.pollCount, 2, "handed out again after the callback");
      assert.deepEqual(run.output, { step: 2 });
    } finally {
      await worker.stop();
    }
  });
});

describe("concurrency limit", () => {
  it("never runs more than the limit at once", async () => {
    await client.registerWorkflowDef(oneStep("limited", "limited_task"));
    let running = 0;
    let peak = 0;
    const worker = new Worker({ address: server.address }).handle(
      "limited_task",
      async () => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 20));
        running--;
        return {};
      },
      { concurrency: 3 },
    );
    worker.start();
    try {
      const ids = await Promise.all(Array.from({ length: 30 }, () => client.startWorkflow("limited", {})));
      const runs = await Promise.all(ids.map((id) => client.waitWorkflow(id, 60_000)));
      assert.ok(runs.every((r) => r.status === "COMPLETED"));
      assert.ok(peak <= 3, `peak ${peak}`);
      assert.ok(peak >= 2, `the limit should be used (peak ${peak})`);
    } finally {
      await worker.stop();
    }
  });
});

describe("lease extension", () => {
  it("keeps a task that outlives its response timeout", async () => {
    await client.registerTaskDefs([{ name: "slow_task", retryCount: 1, retryDelaySeconds: 0, responseTimeoutSeconds: 1 }]);
    await client.registerWorkflowDef(oneStep("slow", "slow_task"));
    const worker = new Worker({ address: server.address }).handle("slow_task", async () => {
      await new Promise((r) => setTimeout(r, 3000));
      return { done: true };
    });
    worker.start();
    try {
      const run = await client.executeWorkflow("slow", {}, { waitMs: 30_000 });
      assert.equal(run.status, "COMPLETED");
      assert.equal(run.tasks.length, 1, "no timeout, no retry");
      assert.equal(run.tasks[0]!.pollCount, 1);
    } finally {
      await worker.stop();
    }
  });
});

describe("lease lost", () => {
  it("aborts the handler's signal when the lease cannot be extended, and reports nothing", async () => {
    await client.registerTaskDefs([{ name: "doomed_task", retryCount: 0, responseTimeoutSeconds: 1 }]);
    await client.registerWorkflowDef(oneStep("doomed", "doomed_task"));
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    let aborted!: (reason: unknown) => void;
    const abort = new Promise<unknown>((resolve) => (aborted = resolve));
    const worker = new Worker({ address: server.address }).handle("doomed_task", async (_input, context) => {
      context.signal.addEventListener("abort", () => aborted(context.signal.reason));
      started();
      await abort;
      return { late: true };
    });
    worker.start();
    try {
      const id = await client.startWorkflow("doomed", {});
      await running;
      // Terminating the run cancels the task: the next lease extension is refused.
      await client.terminateWorkflow(id, "stop it");
      const reason = await abort;
      assert.match(String(reason), /FAILED_PRECONDITION|lease|task/i);
      const run = await client.getWorkflow(id);
      assert.equal(run.status, "TERMINATED");
      assert.notEqual(run.tasks[0]!.status, "COMPLETED", "the late result was not applied");
    } finally {
      await worker.stop();
    }
  });
});

describe("reconnect and drain", () => {
  it("reconnects after the server restarts, and drains running tasks on stop", async () => {
    await client.registerWorkflowDef(oneStep("resilient", "resilient_task"));
    const own = await serve();
    const port = own.port;
    let current = own;
    const seen: string[] = [];
    const worker = new Worker({ address: own.address, minBackoffMs: 20, maxBackoffMs: 200 }).handle<{ value: string }>(
      "resilient_task",
      async ({ value }) => {
        seen.push(value);
        await new Promise((r) => setTimeout(r, 50));
        return { value };
      },
      { concurrency: 2 },
    );
    worker.start();
    try {
      const first = await client.executeWorkflow("resilient", { value: "before" }, { waitMs: 20_000 });
      assert.equal(first.status, "COMPLETED");
      await current.close();
      current = await serve(port);
      const second = await client.executeWorkflow("resilient", { value: "after" }, { waitMs: 30_000 });
      assert.equal(second.status, "COMPLETED");
      // Drain: a task started just before stop() still completes and reports.
      const id = await client.startWorkflow("resilient", { value: "draining" });
      while (!seen.includes("draining")) await new Promise((r) => setTimeout(r, 5));
      await worker.stop();
      const drained = await client.waitWorkflow(id, 10_000);
      assert.equal(drained.status, "COMPLETED");
    } finally {
      await worker.stop();
      await current.close();
    }
  });
});
