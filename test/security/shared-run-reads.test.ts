// Readers of one run at once share one read of it (issue 14): a run may hold
// 10,000 tasks (a fork's width), and each GetWorkflow or watcher's recheck
// read and parsed all of them on its own, so a reader's concurrent calls on
// one large run multiplied the server's work by their number. Those whose
// reads found the same run share one reply too, converted and encoded once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BinaryWriter } from "@bufbuild/protobuf/wire";
import { startRestHarness, type Harness } from "../support/harness.js";
import { forkOverItems } from "../support/flows.js";
import { statementsDuring } from "../support/statements.js";
import { jsonDuring } from "../support/turns.js";

let h: Harness & { rest: string };
before(async () => {
  h = await startRestHarness();
  await h.client.registerWorkflowDef(forkOverItems("wide_read", "w"));
});
after(() => h.close());

/** How many statements read a run's tasks while `fn` ran. */
async function taskReadsDuring(fn: () => Promise<unknown>): Promise<number> {
  let reads = 0;
  await statementsDuring(fn, ([text]) => {
    if (typeof text === "string" && /FROM baton\.tasks t WHERE t\.run_id = \$1/.test(text)) reads++;
  });
  return reads;
}

/** How many protobuf messages this thread encoded while `fn` ran (each message toBinary writes finishes a writer). */
async function encodingsDuring(fn: () => Promise<unknown>): Promise<number> {
  const finish = BinaryWriter.prototype.finish;
  let n = 0;
  BinaryWriter.prototype.finish = function (this: BinaryWriter) {
    n++;
    return finish.call(this);
  };
  try {
    await fn();
  } finally {
    BinaryWriter.prototype.finish = finish;
  }
  return n;
}

/** A task of Conductor's REST shape, written out as JSON. */
const restTask = { parsed: () => false, written: (text: string) => text.startsWith("{") && text.includes('"referenceTaskName":') };

const BRANCHES = 2_000;
const items = () => ({ items: Array.from({ length: BRANCHES }, (_, i) => ({ i })) });

describe("reads of one run", () => {
  it("twenty GetWorkflow calls at once on a run of 2,000 tasks read its tasks at most twice, and each gets the whole run", async () => {
    const id = await h.client.startWorkflow("wide_read", { items: Array.from({ length: 2_000 }, (_, i) => ({ i })) });
    await h.settle();
    let runs: Awaited<ReturnType<typeof h.client.getWorkflow>>[] = [];
    const reads = await taskReadsDuring(async () => {
      runs = await Promise.all(Array.from({ length: 20 }, () => h.client.getWorkflow(id, { includeTasks: true })));
    });
    assert.ok(reads >= 1 && reads <= 2, `${reads} reads of the run's tasks`);
    for (const run of runs) {
      assert.equal(run.tasks.length, 2_002, "the fork, its 2,000 tasks and the join");
      assert.deepEqual(run.tasks[5]!.inputData, { i: 4 });
    }
  });

  it("twenty GetWorkflow calls at once on a run of 2,000 tasks have its reply encoded once a read, not once a caller", async () => {
    const id = await h.client.startWorkflow("wide_read", items());
    await h.settle();
    let runs: Awaited<ReturnType<typeof h.client.getWorkflow>>[] = [];
    const encodings = await encodingsDuring(async () => {
      runs = await Promise.all(Array.from({ length: 20 }, () => h.client.getWorkflow(id, { includeTasks: true })));
    });
    // A task is a message; the run's reads are at most two (above). Twenty encodings of it were 20 x 2,002.
    assert.ok(encodings < 3 * BRANCHES, `${encodings} messages encoded for 20 readers of ${BRANCHES + 2} tasks`);
    for (const run of runs) {
      assert.equal(run.tasks.length, BRANCHES + 2);
      assert.deepEqual(run.tasks[BRANCHES]!.inputData, { i: BRANCHES - 1 });
    }
  });

  it("twenty REST reads of a run of 2,000 tasks at once have it written as JSON once a read", async () => {
    const id = await h.client.startWorkflow("wide_read", items());
    await h.settle();
    const { result: bodies, writes } = await jsonDuring(restTask, () =>
      Promise.all(Array.from({ length: 20 }, async () => (await (await fetch(`${h.rest}/api/workflow/${id}`)).json()) as { tasks: { inputData: unknown }[] })),
    );
    assert.ok(writes <= 2 * (BRANCHES + 2), `${writes} tasks written as JSON for 20 readers of ${BRANCHES + 2}`);
    for (const body of bodies) {
      assert.equal(body.tasks.length, BRANCHES + 2);
      assert.deepEqual(body.tasks[BRANCHES]!.inputData, { i: BRANCHES - 1 });
    }
  });

  it("a reader of a run whole after one of its tasks moved sees it moved, though the run's row did not change", async () => {
    // Its own task type: the runs above leave tasks of theirs to claim.
    await h.client.registerWorkflowDef(forkOverItems("claimed_read", "claimed_w"));
    const id = await h.client.startWorkflow("claimed_read", { items: [{ i: 0 }, { i: 1 }] });
    await h.settle();
    const before = await Promise.all(Array.from({ length: 4 }, () => h.client.getWorkflow(id)));
    const restBefore = await Promise.all(Array.from({ length: 4 }, async () => (await (await fetch(`${h.rest}/api/workflow/${id}`)).json()) as object));
    for (const run of before) assert.equal(run.tasks[1]!.status, "SCHEDULED");
    // A worker's claim writes the task's row alone.
    const { tasks } = await h.client.tasks.poll({ taskType: "claimed_w", workerId: "reader-test", count: 1, waitMs: 5000n });
    assert.equal(tasks.length, 1);
    const claimed = tasks[0]!.taskId;
    const seen = (await h.client.getWorkflow(id)).tasks.find((t) => t.taskId === claimed);
    assert.equal(seen?.status, "IN_PROGRESS");
    assert.equal(seen?.workerId, "reader-test");
    const rest = (await (await fetch(`${h.rest}/api/workflow/${id}`)).json()) as { tasks: { taskId: string; status: string }[] };
    assert.equal(rest.tasks.find((t) => t.taskId === claimed)?.status, "IN_PROGRESS");
    assert.equal(restBefore.length, 4);
  });

  it("a read that begins after a change sees it, even while others of the run are in flight", async () => {
    const id = await h.client.startWorkflow("wide_read", { items: [{ i: 0 }] });
    await h.settle();
    const earlier = Array.from({ length: 5 }, () => h.client.getWorkflow(id));
    await h.client.terminateWorkflow(id, "seen?");
    assert.equal((await h.client.getWorkflow(id)).status, "TERMINATED");
    await Promise.all(earlier);
  });
});
