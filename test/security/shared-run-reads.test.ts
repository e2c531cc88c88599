// Readers of one run at once share one read of it (issue 14): a run may hold
// 10,000 tasks (a fork's width), and each GetWorkflow or watcher's recheck
// read and parsed all of them on its own, so a reader's concurrent calls on
// one large run multiplied the server's work by their number.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startHarness, type Harness } from "../support/harness.js";
import { forkOverItems } from "../support/flows.js";
import { statementsDuring } from "../support/statements.js";

let h: Harness;
before(async () => {
  h = await startHarness();
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

  it("a read that begins after a change sees it, even while others of the run are in flight", async () => {
    const id = await h.client.startWorkflow("wide_read", { items: [{ i: 0 }] });
    await h.settle();
    const earlier = Array.from({ length: 5 }, () => h.client.getWorkflow(id));
    await h.client.terminateWorkflow(id, "seen?");
    assert.equal((await h.client.getWorkflow(id)).status, "TERMINATED");
    await Promise.all(earlier);
  });
});
