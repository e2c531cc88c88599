// Retention's batches are small in tasks as well as in runs: one transaction
// removes the oldest ended runs whose tasks add up to the batch's task limit
// (a run with more goes alone), and the reaper goes on until all are gone.
// Runs of a few hundred tasks each made a batch of 500 runs one transaction
// of many seconds (the retention bench's probe: 500 runs of 300 tasks, 8.4 s).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Registry } from "prom-client";
import { createLogger } from "@baton/server";
import { Reaper } from "../../server/src/retention/reaper.js";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

let h: Harness;

/** Ends at once, with `tasks` SET_VARIABLE tasks. */
const flowOfTasks = (name: string, tasks: number) =>
  flowOf(
    name,
    Array.from({ length: tasks }, (_, i) => ({ name: "set", taskReferenceName: `set_${i}`, type: "SET_VARIABLE", inputParameters: { x: i } })),
  );

before(async () => {
  h = await startHarness();
});
after(async () => {
  await h.close();
});

describe("retention batches", () => {
  it("keeps each transaction within its task limit, a larger run alone, and removes every run", async () => {
    await h.client.registerWorkflowDef(flowOfTasks("ret_small", 1));
    await h.client.registerWorkflowDef(flowOfTasks("ret_big", 12));
    const starts = ["ret_small", "ret_small", "ret_big", "ret_small", "ret_small", "ret_small", "ret_big", "ret_big", "ret_small", "ret_small", "ret_small"];
    for (const name of starts) await h.client.startWorkflow(name, {});
    const expectedTasks = starts.reduce((n, name) => n + (name === "ret_big" ? 12 : 1), 0);

    // The server's own store, each batch recorded.
    const batches: { runs: number; tasks: number }[] = [];
    const store = h.server.store;
    const recorded = {
      removeEndedRuns: async (...args: Parameters<typeof store.removeEndedRuns>) => {
        const removed = await store.removeEndedRuns(...args);
        batches.push({ runs: removed.runs, tasks: removed.tasks });
        return removed;
      },
      oldestEndedRun: () => store.oldestEndedRun(),
      retentionOverrides: () => store.retentionOverrides(),
    };
    const reaper = new Reaper(recorded, h.clock, createLogger("silent"), { batch: 500, batchTasks: 10 }, new Registry());
    const total = await reaper.purge({ before: h.clock.now() + 1 });

    assert.deepEqual(total, { runs: starts.length, tasks: expectedTasks }, "every run and task removed");
    for (const b of batches) assert.ok(b.tasks <= 10 || b.runs === 1, `a batch over its task limit holds one run: ${JSON.stringify(batches)}`);
    assert.ok(batches.filter((b) => b.runs > 0).length >= 4, `split into batches: ${JSON.stringify(batches)}`);
    const { workflows } = await h.client.searchWorkflows({ pageSize: 100 });
    assert.equal(workflows.length, 0, "no run left");
  });
});
