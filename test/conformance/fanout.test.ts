// A FORK_JOIN_DYNAMIC of many branches completed by a no-op worker, on the
// real clock: each branch's completion must cost the same whatever the width.
// Timings are printed, never asserted (`npm run bench` measures them).
// BATON_FANOUT_WIDTHS (e.g. "100") narrows or widens it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Worker } from "@baton/client";
import { forkOverItems } from "../support/flows.js";
import { startHarness, type Harness } from "../support/harness.js";

let h: Harness;
before(async () => {
  h = await startHarness({ manualClock: false });
  await h.client.registerTaskDefs([{ name: "fanout_noop", retryCount: 0, responseTimeoutSeconds: 600 }]);
  await h.client.registerWorkflowDef(
    forkOverItems(
      "fanout",
      "fanout_noop",
      [
        {
          name: "count",
          taskReferenceName: "count",
          type: "INLINE",
          inputParameters: { evaluatorType: "javascript", joined: "${join.output}", expression: "Object.keys($.joined).length" },
        },
      ],
      { branches: "${count.output.result}" },
    ),
  );
});
after(() => h.close());

const widths = (process.env["BATON_FANOUT_WIDTHS"] ?? "1000,10000").split(",").map(Number);

describe("wide dynamic fork", () => {
  for (const width of widths) {
    it(`${width} branches complete with a no-op worker`, { timeout: 30 * 60_000 }, async () => {
      const worker = new Worker({ address: h.server.address });
      worker.handle("fanout_noop", async (input: { i: number }) => ({ i: input.i }), { concurrency: 64 });
      worker.start();
      try {
        const started = performance.now();
        const id = await h.client.startWorkflow("fanout", { items: Array.from({ length: width }, (_, i) => ({ i })) });
        const scheduled = performance.now();
        let run = await h.client.waitWorkflow(id, 60_000, false);
        // The server caps one wait: wait again while the branches are still running.
        while (run.status === "RUNNING") run = await h.client.waitWorkflow(id, 60_000, false);
        const ended = performance.now();
        assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
        assert.equal(run.output["branches"], width);
        const perBranch = (ended - scheduled) / width;
        console.log(
          `fan-out ${width}: start+schedule ${(scheduled - started).toFixed(0)} ms, branches done in ${(ended - scheduled).toFixed(0)} ms (${perBranch.toFixed(2)} ms per branch)`,
        );
      } finally {
        await worker.stop();
      }
    });
  }
});
