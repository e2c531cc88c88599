// Under a flood a batch of events holds a hundred runs or more. Decided and
// planned all in one turn of the event loop, it held every reply that came
// meanwhile (a quiet key's start written, its task handed over at commit and
// written to its worker) for all of that work: the longest turns under the
// bench's flood were these, tens of ms each on the loaded machine. A batch
// now lets the event loop take a turn after each few dozen runs
// (runtime/pipeline.ts). Counted in turns, never time: a batch of 256 starts,
// and one of 256 task results, each pushed in one turn.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { RUNS_PER_TURN } from "../../server/src/runtime/pipeline.js";
import { startHarness, type Harness } from "../support/harness.js";
import { statementsDuring } from "../support/statements.js";
import { countTurns } from "../support/turns.js";

const TYPE = "batch_turns";
const RUNS = 256;
let h: Harness;

before(async () => {
  h = await startHarness();
  await h.client.registerTaskDefs([{ name: TYPE, retryCount: 0, responseTimeoutSeconds: 3600 }]);
  await h.client.registerWorkflowDef({
    name: TYPE,
    version: 1,
    schemaVersion: 2,
    tasks: [{ name: TYPE, taskReferenceName: "work", type: "SIMPLE", inputParameters: { n: "${workflow.input.n}" } }],
  });
});
after(() => h.close());

/**
 * Runs `fn`, and returns the turns of the event loop between the batch's last
 * read answered on its connection (or `fn`'s start) and its write going out:
 * the turns its decisions and the planning of its write took.
 */
async function turnsBeforeWrite(fn: () => Promise<unknown>): Promise<{ writes: number; turns: number }> {
  const turns = countTurns();
  const answered = new WeakMap<object, number>();
  let writes = 0;
  let before = -1;
  try {
    await statementsDuring(fn, (args, results, connection) => {
      const name = (args[0] as { name?: string }).name ?? "";
      if (!name.startsWith("baton-write-")) {
        void results.then(() => answered.set(connection, turns.now));
        return;
      }
      writes++;
      before = turns.now - (answered.get(connection) ?? 0);
    });
  } finally {
    turns.stop();
  }
  return { writes, turns: before };
}

describe("a batch of many runs is decided over several turns of the event loop", () => {
  it(`${RUNS} starts in one batch`, async () => {
    await h.server.engine.start({ name: TYPE, input: { n: -1 } });
    // The definition then forgotten, as when its change's notification comes late (on a loaded machine, after
    // the start before): the starts share one read of it and go on together, into one batch. Each read its own
    // before, answered over many turns: CI saw 30 and 63 batches.
    h.server.engine.workflowDefsChanged(TYPE);
    const { writes, turns } = await turnsBeforeWrite(() =>
      Promise.all(Array.from({ length: RUNS }, (_, n) => h.server.engine.start({ name: TYPE, input: { n } }))),
    );
    assert.equal(writes, 1, "one batch, one write");
    // Each start decided, and then planned, in turns of RUNS_PER_TURN.
    assert.ok(turns >= (2 * RUNS) / RUNS_PER_TURN - 1, `the batch's ${RUNS} starts were decided and planned in ${turns} turn(s)`);
  });

  it(`${RUNS} task results in one batch`, async () => {
    // Claimed apart from the engine (it does not see them, so the batch reads and locks its runs, as for a flood's).
    const now = h.clock.now();
    const tasks = await h.server.store.claim(TYPE, RUNS, "batch-turns-worker", now, randomUUID);
    assert.equal(tasks.length, RUNS);
    const { writes, turns } = await turnsBeforeWrite(() =>
      Promise.all(
        tasks.map((t) =>
          h.server.engine.handle(
            { taskId: t.id },
            {
              kind: "taskResult",
              taskId: t.id,
              leaseToken: t.leaseToken,
              status: "COMPLETED",
              output: { done: true },
              reason: "",
              callbackAfterSeconds: 0,
              workerId: "batch-turns-worker",
            },
          ),
        ),
      ),
    );
    assert.equal(writes, 1, "one batch, one write");
    assert.ok(turns >= (2 * RUNS) / RUNS_PER_TURN - 1, `the batch's ${RUNS} results were decided and planned in ${turns} turn(s)`);
    const run = await h.client.getWorkflow(tasks[0]!.runId);
    assert.equal(run.status, "COMPLETED");
  });
});
