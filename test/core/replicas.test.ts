// Several server processes on one database, and a server killed mid-run:
// nothing is lost and no run is left stuck.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { BatonClient, Worker } from "@baton/client";
import { freshDatabase, stopCluster } from "../support/database.js";
import { flowOf, forkOfTasks } from "../support/flows.js";

const serverMain = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../server/dist/main.js");

interface Proc {
  child: ChildProcess;
  address: string;
}

async function startProcess(databaseUrl: string, port = 0): Promise<Proc> {
  const child = spawn(process.execPath, [serverMain], {
    env: { ...process.env, BATON_DATABASE_URL: databaseUrl, BATON_PORT: String(port), BATON_LOG_LEVEL: "warn" },
    stdio: ["ignore", "pipe", "inherit"],
  });
  const address = await new Promise<string>((resolve, reject) => {
    let buffer = "";
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /listening (\S+)/.exec(buffer);
      if (match) resolve(match[1]!);
    });
    child.on("exit", (code) => reject(new Error(`server exited with ${code}`)));
  });
  return { child, address };
}

function kill(proc: Proc, signal: NodeJS.Signals = "SIGKILL"): Promise<void> {
  return new Promise((resolve) => {
    if (proc.child.exitCode !== null) return resolve();
    proc.child.once("exit", () => resolve());
    proc.child.kill(signal);
  });
}

const flow = flowOf(
  "three_steps",
  [
    { name: "step_a", taskReferenceName: "a", type: "SIMPLE", inputParameters: { n: "${workflow.input.n}" } },
    { name: "step_b", taskReferenceName: "b", type: "SIMPLE", inputParameters: { n: "${a.output.n}" } },
    { name: "step_c", taskReferenceName: "c", type: "SIMPLE", inputParameters: { n: "${b.output.n}" } },
  ],
  { n: "${c.output.n}", servedBy: ["${a.output.by}", "${b.output.by}", "${c.output.by}"] },
);

let databaseUrl: string;
before(async () => {
  databaseUrl = await freshDatabase();
});
after(() => stopCluster());

/** Retries a call while the server is coming back. */
async function untilReachable<T>(fn: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn();
    } catch (error) {
      if ((error as { code?: number }).code !== 14 || attempt > 100) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function workerFor(address: string, id: string, delayMs = 0): Worker {
  const worker = new Worker({ address, workerId: id, minBackoffMs: 50, maxBackoffMs: 500 });
  for (const type of ["step_a", "step_b", "step_c"]) {
    worker.handle<{ n: number }>(
      type,
      async ({ n }) => {
        if (delayMs) await new Promise((r) => setTimeout(r, delayMs));
        return { n: n + 1, by: id };
      },
      { concurrency: 8 },
    );
  }
  return worker.start();
}

/**
 * Two server processes on the database, with a client and a worker (made by
 * `newWorker`, ids "worker-on-a" and "worker-on-b") on each; after `body`,
 * the workers stop, then the clients, then both servers.
 */
async function onTwoProcesses(
  newWorker: (address: string, workerId: string) => Worker,
  body: (two: { clientA: BatonClient; clientB: BatonClient; workerA: Worker; workerB: Worker }) => Promise<void>,
): Promise<void> {
  const a = await startProcess(databaseUrl);
  const b = await startProcess(databaseUrl);
  const clientA = new BatonClient({ address: a.address });
  const clientB = new BatonClient({ address: b.address });
  const workerA = newWorker(a.address, "worker-on-a");
  const workerB = newWorker(b.address, "worker-on-b");
  try {
    await body({ clientA, clientB, workerA, workerB });
  } finally {
    await Promise.all([workerA.stop(), workerB.stop()]);
    clientA.close();
    clientB.close();
    await Promise.all([kill(a, "SIGTERM"), kill(b, "SIGTERM")]);
  }
}

describe("two server processes on one database", () => {
  it("share the work: runs started on one finish through workers on the other", async () => {
    await onTwoProcesses(workerFor, async ({ clientA, clientB }) => {
      await clientA.registerTaskDefs(["step_a", "step_b", "step_c"].map((name) => ({ name, retryCount: 2, retryDelaySeconds: 0, responseTimeoutSeconds: 5 })));
      await clientA.registerWorkflowDef(flow);
      const ids = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? clientA : clientB).startWorkflow("three_steps", { n: i })));
      const runs = await Promise.all(ids.map((id, i) => (i % 2 ? clientB : clientA).waitWorkflow(id, 60_000)));
      const servedBy = new Set<string>();
      runs.forEach((run, i) => {
        assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
        assert.equal(run.output["n"], i + 3);
        for (const by of run.output["servedBy"] as string[]) servedBy.add(by);
      });
      assert.deepEqual([...servedBy].sort(), ["worker-on-a", "worker-on-b"]);
    });
  });
});

describe("a run written by two replicas", () => {
  // Server A keeps the run in memory after starting it and decides A's task
  // result from there, without reading the run; B has meanwhile written the
  // other branch's result. A's write must find the run moved and decide again
  // from the database, or the join would never see B's branch.
  it("decides a result again from the database when another replica wrote the run meanwhile", async () => {
    const newWorker = (address: string, workerId: string) => new Worker({ address, workerId, minBackoffMs: 50, maxBackoffMs: 500 });
    await onTwoProcesses(newWorker, async ({ clientA, workerA, workerB }) => {
      await clientA.registerTaskDefs(["left", "right"].map((name) => ({ name, retryCount: 0, responseTimeoutSeconds: 30 })));
      await clientA.registerWorkflowDef(
        forkOfTasks("two_branches", { left: "left", right: "right" }, { left: "${left.output.by}", right: "${right.output.by}" }),
      );
      workerB.handle("right", async () => ({ by: "b" })).start();
      // Left answers only once right's result is written (through B).
      workerA
        .handle("left", async (_input, context) => {
          for (;;) {
            const run = await clientA.getWorkflow(context.workflowId);
            if (run.tasks.some((t) => t.referenceTaskName === "right" && t.status === "COMPLETED")) return { by: "a" };
            await new Promise((r) => setTimeout(r, 20));
          }
        })
        .start();
      const id = await clientA.startWorkflow("two_branches", {});
      const run = await clientA.waitWorkflow(id, 30_000);
      assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
      assert.deepEqual(run.output, { left: "a", right: "b" });
    });
  });
});

describe("a server killed mid-run", () => {
  it("loses nothing: after a restart every run completes", async () => {
    let server = await startProcess(databaseUrl);
    const port = Number(server.address.split(":").pop());
    const client = new BatonClient({ address: server.address });
    const worker = workerFor(server.address, "survivor", 20);
    try {
      await client.registerTaskDefs(["step_a", "step_b", "step_c"].map((name) => ({ name, retryCount: 2, retryDelaySeconds: 0, responseTimeoutSeconds: 3 })));
      await client.registerWorkflowDef(flow);
      const ids: string[] = [];
      for (let i = 0; i < 30; i++) ids.push(await client.startWorkflow("three_steps", { n: i }));
      // Let work get under way, then kill -9 with tasks in flight.
      await new Promise((r) => setTimeout(r, 150));
      await kill(server);
      server = await startProcess(databaseUrl, port);
      const runs = await Promise.all(ids.map((id) => untilReachable(() => client.waitWorkflow(id, 60_000))));
      runs.forEach((run, i) => {
        assert.equal(run.status, "COMPLETED", `${run.workflowId}: ${run.status} ${run.reasonForIncompletion ?? ""}`);
        assert.equal(run.output["n"], i + 3);
      });
    } finally {
      await worker.stop();
      client.close();
      await kill(server, "SIGTERM");
    }
  });
});
