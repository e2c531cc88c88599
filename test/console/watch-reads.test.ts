// WatchWorkflow (the console's watch of one run) rechecks the run every 5 s
// for changes another replica made without a word reaching this one. It read
// the run whole each time, with every task and payload, changed or not: a
// console open on a run of 5,000 tasks read them all every 5 s. It reads the
// run's stamp now (its revision and its tasks'), and the run whole only when
// that moved; a change no wake told of is still answered at the next recheck.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";
import { statementsDuring } from "../support/statements.js";

let h: Harness;
let db: pg.Client;

before(async () => {
  h = await startHarness();
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
  await h.client.registerTaskDefs([{ name: "watch_reads_step" }]);
  await h.client.registerWorkflowDef(
    flowOf("watch_reads", [
      { name: "watch_reads_step", taskReferenceName: "step", type: "SIMPLE" },
      { name: "hold", taskReferenceName: "hold", type: "WAIT" },
    ]),
  );
});
after(async () => {
  await db.end();
  await h.close();
});

/** The text of a statement as the server's connections send it. */
const textOf = (args: unknown[]) => (typeof args[0] === "string" ? args[0] : ((args[0] as { text?: string } | undefined)?.text ?? ""));

describe("a run's watch", () => {
  it("reads a run that does not change whole once, not again at each recheck", async () => {
    const runId = await h.client.startWorkflow("watch_reads", {});
    const now = await h.client.workflows.watchWorkflow({ workflowId: runId, knownState: "", waitMs: 0n });
    // Longer than a recheck (5 s): the watch looks again at least once before it runs out.
    let wholeReads = 0;
    let answer: Awaited<ReturnType<typeof h.client.workflows.watchWorkflow>> | undefined;
    await statementsDuring(
      async () => {
        answer = await h.client.workflows.watchWorkflow({ workflowId: runId, knownState: now.state, waitMs: 6_000n });
      },
      (args) => {
        // The run's tasks, read whole (runs.ts runToView).
        if (/FROM baton\.tasks t WHERE t\.run_id = \$1 ORDER BY t\.seq/.test(textOf(args))) wholeReads++;
      },
    );
    assert.equal(answer?.changed, false);
    assert.equal(answer?.state, now.state);
    assert.equal(wholeReads, 1, "read whole when the watch began, and not again at the recheck");
  });

  it("answers a change no wake told of (another replica's write) at its next recheck", async () => {
    const runId = await h.client.startWorkflow("watch_reads", {});
    const now = await h.client.workflows.watchWorkflow({ workflowId: runId, knownState: "", waitMs: 0n });
    let answer: Awaited<ReturnType<typeof h.client.workflows.watchWorkflow>> | undefined;
    let firstRead: Promise<unknown> | undefined;
    await statementsDuring(
      async () => {
        const watching = h.client.workflows.watchWorkflow({ workflowId: runId, knownState: now.state, waitMs: 60_000n });
        // Once the watch has read the run whole (and found the state the caller has), a claim on another replica writes
        // the task handed to a worker there: this replica's engine never sees it, and no wake comes.
        while (!firstRead) await new Promise((resolve) => setTimeout(resolve, 10));
        await firstRead;
        await db.query(
          `UPDATE baton.tasks SET status = 'IN_PROGRESS', poll_count = poll_count + 1, worker_id = 'elsewhere', started_at = 1, updated_at = 1,
             rev = rev + 1
           WHERE run_id = $1 AND ref = 'step'`,
          [runId],
        );
        answer = await watching;
      },
      (args, results) => {
        if (/FROM baton\.tasks t WHERE t\.run_id = \$1 ORDER BY t\.seq/.test(textOf(args))) firstRead ??= results;
      },
    );
    assert.ok(answer);
    assert.equal(answer.changed, true);
    assert.notEqual(answer.state, now.state);
    assert.deepEqual(
      answer.workflow?.tasks.map((t) => [t.referenceTaskName, t.workerId]),
      [["step", "elsewhere"]],
    );
  });
});
