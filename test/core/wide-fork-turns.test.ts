// A dynamic fork of thousands of branches is started over several decisions
// (at most TASK_BUDGET tasks each, a `continue` event between them), so the
// serving thread makes its branches in turns of the event loop apart, and
// answers other calls between them: made in one decision, 5,000 branches held
// it 40 ms and more. The caller that started the run is answered once every
// branch exists; each is there once, the join waits on all, terminate ends all.
import assert from "node:assert/strict";
import crypto from "node:crypto";
import { syncBuiltinESMExports } from "node:module";
import { after, before, describe, it } from "node:test";
import { startHarness, type Harness } from "../support/harness.js";
import { forkOverItems } from "../support/flows.js";
import { countTurns } from "../support/turns.js";

const WIDTH = 5_000;
/** TASK_BUDGET (server/src/decider/evaluation.ts), and room for the few other ids a decision makes (the run's, a lease token). */
const MOST_IDS_A_TURN = 1_000 + 10;

let h: Harness;
before(async () => {
  h = await startHarness({ server: { metrics: { port: 0 } } });
  await h.client.registerTaskDefs([{ name: "fork_turns_branch", retryCount: 0, responseTimeoutSeconds: 600 }]);
  await h.client.registerWorkflowDef(forkOverItems("fork_turns", "fork_turns_branch"));
});
after(() => h.close());

/** While `fn` runs: how many ids (task ids among them) were made in each turn of the event loop, and the turns in which /healthz was answered. */
async function observed<T>(fn: () => Promise<T>): Promise<{ result: T; ids: Map<number, number>; healthTurns: number[] }> {
  const turns = countTurns();
  const ids = new Map<number, number>();
  const made = crypto.randomUUID;
  crypto.randomUUID = ((options) => {
    ids.set(turns.now, (ids.get(turns.now) ?? 0) + 1);
    return made(options);
  }) as typeof crypto.randomUUID;
  // The server imported randomUUID by name: its binding follows the change.
  syncBuiltinESMExports();
  const healthTurns: number[] = [];
  let polling = true;
  const poll = (async () => {
    while (polling) {
      const answer = await fetch(`http://${h.server.metricsAddress}/healthz`);
      await answer.arrayBuffer();
      if (answer.ok) healthTurns.push(turns.now);
    }
  })();
  try {
    return { result: await fn(), ids, healthTurns };
  } finally {
    polling = false;
    await poll;
    crypto.randomUUID = made;
    syncBuiltinESMExports();
    turns.stop();
  }
}

describe("a dynamic fork of thousands of branches", () => {
  it("is made over several decisions in turns apart, /healthz answered between them, and started whole when the caller is answered", async () => {
    const items = Array.from({ length: WIDTH }, (_, i) => ({ i }));
    const { result: id, ids, healthTurns } = await observed(() => h.client.startWorkflow("fork_turns", { items }));
    const most = Math.max(...ids.values());
    assert.ok(most <= MOST_IDS_A_TURN, `${most} ids made in one turn`);
    const making = [...ids].filter(([, n]) => n > 100).map(([turn]) => turn);
    assert.ok(making.length >= WIDTH / 1_000, `branches made in turns ${making.join(", ")}`);
    const [first, last] = [Math.min(...making), Math.max(...making)];
    assert.ok(
      healthTurns.some((turn) => turn > first && turn < last),
      `/healthz answered in turns ${healthTurns.join(", ")}, branches made in ${making.join(", ")}`,
    );

    const run = await h.client.getWorkflow(id, { includeTasks: true });
    const branches = run.tasks.filter((t) => t.taskDefName === "fork_turns_branch");
    assert.equal(branches.length, WIDTH);
    assert.equal(new Set(branches.map((t) => t.referenceTaskName)).size, WIDTH);
    assert.ok(branches.every((t) => t.status === "SCHEDULED"));
    const byRef = new Map(run.tasks.map((t) => [t.referenceTaskName, t]));
    assert.equal(byRef.get("fork")!.status, "COMPLETED");
    assert.equal(byRef.get("join")!.status, "IN_PROGRESS");
    assert.equal((byRef.get("join")!.inputData as { joinOn: string[] }).joinOn.length, WIDTH);

    await h.client.terminateWorkflow(id, "seen");
    const ended = await h.client.getWorkflow(id, { includeTasks: true });
    assert.equal(ended.status, "TERMINATED");
    assert.ok(ended.tasks.filter((t) => t.taskDefName === "fork_turns_branch").every((t) => t.status === "CANCELED"));
  });
});
