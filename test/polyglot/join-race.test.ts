// Found by the polyglot test: when a fork's branches reported at the same
// instant, the JOIN could stay IN_PROGRESS for ever, though both branches
// COMPLETED (the second event decided on a task list read before the first
// one committed). Twenty forks whose branches answer at once.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startHarness, type Harness } from "../support/harness.js";
import { answer, mustPoll } from "../support/worker.js";
import { forkOfTasks } from "../support/flows.js";

let h: Harness;

const flow = forkOfTasks("join_race", { left: "race_left", right: "race_right" });

before(async () => {
  h = await startHarness({ manualClock: false });
  await h.client.registerTaskDefs([
    { name: "race_left", retryCount: 0, timeoutSeconds: 300, responseTimeoutSeconds: 60 },
    { name: "race_right", retryCount: 0, timeoutSeconds: 300, responseTimeoutSeconds: 60 },
  ]);
  await h.client.registerWorkflowDef(flow);
});
after(() => h.close());

describe("a fork whose branches report at the same instant", () => {
  it("completes its join", async () => {
    const stuck: string[] = [];
    for (let i = 0; i < 20; i++) {
      const id = await h.client.startWorkflow("join_race", {});
      const [left, right] = await Promise.all([mustPoll(h, "race_left"), mustPoll(h, "race_right")]);
      await Promise.all([answer(h, left, "COMPLETED", { side: "left" }), answer(h, right, "COMPLETED", { side: "right" })]);
      const run = await h.client.waitWorkflow(id, 2000);
      if (run.status !== "COMPLETED") stuck.push(`${id}: ${run.status}, ${run.tasks.map((t) => `${t.referenceTaskName}=${t.status}`).join(" ")}`);
    }
    assert.deepEqual(stuck, []);
  });
});
