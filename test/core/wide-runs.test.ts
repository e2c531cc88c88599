// Wide runs: a replica keeps the tasks of a run with many tasks in memory
// between events, and must never decide on a copy that went stale — through a
// claim or lease change it did not see, or a write by another replica.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { TaskStatus, type LeasedTask } from "@baton/protocol";
import { runLockReadsDuring } from "../support/batch-reads.js";
import { forkOverItems } from "../support/flows.js";
import { startHarness, type Harness } from "../support/harness.js";
import { answer } from "../support/worker.js";

const WIDTH = 100;
let a: Harness;
let b: Harness;

before(async () => {
  a = await startHarness();
  // A second replica on the same database.
  b = await startHarness({ databaseUrl: a.databaseUrl });
  await a.client.registerTaskDefs([{ name: "wide_branch", retryCount: 0, responseTimeoutSeconds: 600 }]);
  await a.client.registerWorkflowDef(forkOverItems("wide", "wide_branch"));
});
after(async () => {
  await b.close();
  await a.close();
});

async function pollMany(h: Harness, count: number, taskType = "wide_branch"): Promise<LeasedTask[]> {
  const tasks: LeasedTask[] = [];
  while (tasks.length < count) {
    const { tasks: got } = await h.client.tasks.poll({ taskType, workerId: "w", count: count - tasks.length, waitMs: 2000n });
    assert.ok(got.length > 0, `only ${tasks.length} of ${count} branches could be polled`);
    tasks.push(...got);
  }
  return tasks;
}

const start = (h: Harness) => h.client.startWorkflow("wide", { items: Array.from({ length: WIDTH }, (_, i) => ({ i })) });

describe("a wide run kept in memory", () => {
  it("completes when results arrive through both replicas in turn", async () => {
    const id = await start(a);
    const tasks = await pollMany(a, WIDTH);
    for (let i = 0; i < tasks.length; i += 10) {
      const via = (i / 10) % 2 === 0 ? a : b;
      const applied = await Promise.all(tasks.slice(i, i + 10).map((t) => answer(via, t, "COMPLETED", { i })));
      assert.ok(applied.every(Boolean));
    }
    const run = await a.client.getWorkflow(id, { includeTasks: true });
    assert.equal(run.status, "COMPLETED");
    assert.equal(run.tasks.filter((t) => t.taskType === "wide_branch" && t.status === "COMPLETED").length, WIDTH);
  });

  it("a failure cancels branches claimed after the run was last written, without losing a result", async () => {
    const id = await start(a);
    // The first results make replica A keep the run; the rest are claimed afterwards.
    const first = await pollMany(a, 20);
    await Promise.all(first.map((t) => answer(a, t, "COMPLETED")));
    const later = await pollMany(a, 30);
    // A result for a branch claimed after the run was kept: its lease token is only in the database.
    assert.equal(await answer(a, later[0]!, "COMPLETED"), true);
    // One branch fails: the run fails and cancels every open branch, including the claimed ones.
    assert.equal(await answer(a, later[1]!, "FAILED", {}, { reason: "boom" }), true);
    const run = await a.client.getWorkflow(id, { includeTasks: true });
    assert.equal(run.status, "FAILED");
    const branches = run.tasks.filter((t) => t.taskType === "wide_branch");
    assert.equal(branches.filter((t) => t.status === "COMPLETED").length, 21);
    assert.equal(branches.filter((t) => t.status === "FAILED").length, 1);
    assert.equal(branches.filter((t) => t.status === "CANCELED").length, WIDTH - 22);
    // A claimed branch's late answer is not applied to the ended run.
    assert.equal(await answer(a, later[2]!, "COMPLETED"), false);
  });

  it("a stale lease is refused even when the kept copy still shows the old one", async () => {
    await start(a);
    const first = await pollMany(a, 10);
    await Promise.all(first.map((t) => answer(a, t, "COMPLETED")));
    const [task] = await pollMany(a, 1);
    // Another lease for the same task (extended through replica B) does not make a wrong token right.
    await b.client.tasks.extendLease({ taskId: task!.taskId, leaseToken: task!.leaseToken, extendSeconds: 0n });
    await assert.rejects(
      a.client.tasks.updateTask({
        result: { taskId: task!.taskId, leaseToken: "not-the-lease", status: TaskStatus.COMPLETED, outputJson: "{}", workerId: "w" },
      }),
      /stale lease/,
    );
    assert.equal(await answer(a, task!, "COMPLETED"), true);
  });

  it("is locked for each result without its row being read again: its input is not sent or parsed each time", async () => {
    await a.client.registerTaskDefs([{ name: "wide_pad_branch", retryCount: 0, responseTimeoutSeconds: 600 }]);
    await a.client.registerWorkflowDef(forkOverItems("wide_pad", "wide_pad_branch"));
    const pad = "x".repeat(100_000);
    const id = await a.client.startWorkflow("wide_pad", { items: Array.from({ length: WIDTH }, (_, i) => ({ i })), pad });
    const tasks = await pollMany(a, WIDTH, "wide_pad_branch");
    const sizes = await lockedRunBytesDuring(async () => {
      for (const task of tasks.slice(0, 30)) assert.equal(await answer(a, task, "COMPLETED"), true);
    });
    // The first result reads the run (not kept yet); the rest find it in memory. Before: 100 KB of input each time.
    assert.ok(sizes.length >= 29, `${sizes.length} batches`);
    const later = sizes.slice(-20);
    assert.ok(Math.max(...later) < 1_000, `the locked run's row took ${later.join(", ")} bytes`);
    await Promise.all(tasks.slice(30).map((t) => answer(a, t, "COMPLETED")));
    const run = await a.client.getWorkflow(id, { includeTasks: false });
    assert.equal(run.status, "COMPLETED");
    assert.equal((run.input as { pad: string }).pad, pad);
  });
});

describe("a wide run terminated", () => {
  // A task type of their own: the runs above leave branches open to claim.
  const startEnded = async () => {
    await a.client.registerWorkflowDef(forkOverItems("wide_ended", "wide_ended_branch"));
    return a.client.startWorkflow("wide_ended", { items: Array.from({ length: WIDTH }, (_, i) => ({ i })) });
  };
  const branches = (run: { tasks: { taskType: string; status: string }[] }, status: string) =>
    run.tasks.filter((t) => t.taskType === "wide_ended_branch" && t.status === status).length;

  it("is terminated from memory: its tasks are not read again", async () => {
    const id = await startEnded();
    await a.settle();
    const reads = await runLockReadsDuring(() => a.client.terminateWorkflow(id, "from memory"));
    // Before: every task of the run (102 rows) read and indexed again in the turn that decided it.
    assert.deepEqual(
      reads.map((results) => results[2]?.rows.length ?? 0),
      [0],
    );
    const run = await a.client.getWorkflow(id, { includeTasks: true });
    assert.equal(run.status, "TERMINATED");
    assert.equal(branches(run, "CANCELED"), WIDTH);
  });

  it("cancels branches claimed after the run was last written, which memory did not see", async () => {
    const id = await startEnded();
    await a.settle();
    const claimed = await pollMany(a, 30, "wide_ended_branch");
    const reads = await runLockReadsDuring(() => a.client.terminateWorkflow(id, "claimed since"));
    // Decided from memory, the write found the claimed rows moved; decided again from the run read whole.
    assert.deepEqual(
      reads.map((results) => results[2]?.rows.length ?? 0),
      [0, WIDTH + 2],
    );
    const run = await a.client.getWorkflow(id, { includeTasks: true });
    assert.equal(run.status, "TERMINATED");
    assert.equal(branches(run, "CANCELED"), WIDTH);
    assert.equal(await answer(a, claimed[0]!, "COMPLETED"), false);
  });
});

/** Bytes of JSON of the run rows each run-locking batch read while `fn` ran. */
async function lockedRunBytesDuring(fn: () => Promise<unknown>): Promise<number[]> {
  return (await runLockReadsDuring(fn)).map((results) => JSON.stringify(results[1]?.rows ?? []).length);
}
