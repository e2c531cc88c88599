// The runs other runs start (a fork's SUB_WORKFLOW children, 64 at a time)
// each count in their tree in their start's transaction (store/run-trees.ts).
// Started in the batch lane every caller shares, another caller's start made
// meanwhile went into their batch: it was answered, and its first task handed
// over, only once they were all decided, written and committed. They now go
// in a lane of their own, one batch in flight. Held at a door, not timed: the
// server's tree counts wait there, so a batch of children cannot finish.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { randomUUID } from "node:crypto";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

let h: Harness;

before(async () => {
  h = await startHarness();
  await h.client.registerWorkflowDef(flowOf("tree_lane_child", [{ name: "wait", taskReferenceName: "wait", type: "WAIT" }]));
  await h.client.registerWorkflowDef(flowOf("tree_lane_other", [{ name: "wait", taskReferenceName: "wait", type: "WAIT" }]));
});
after(() => h.close());

describe("the runs other runs start", () => {
  it("share no batch with another caller's start", { timeout: 60_000 }, async () => {
    const { engine, store } = h.server;
    // Both definitions cached: each start below is pushed in the turn it is made.
    await engine.start({ name: "tree_lane_child", input: {} });
    await engine.start({ name: "tree_lane_other", input: {} });
    const take = store.takeTreeRuns;
    let letGo = () => {};
    const door = new Promise<void>((resolve) => (letGo = resolve));
    let entered = 0;
    store.takeTreeRuns = async (...args) => {
      entered++;
      await door;
      return take(...args);
    };
    const children: Promise<{ created: boolean }>[] = [];
    try {
      children.push(engine.start({ name: "tree_lane_child", input: {}, tree: { root: randomUUID() } }));
      await eventually(
        async () => entered,
        (n) => n === 1,
      );
      // A second child and another caller's start, in one turn.
      children.push(engine.start({ name: "tree_lane_child", input: {}, tree: { root: randomUUID() } }));
      const { runId } = await engine.start({ name: "tree_lane_other", input: {} });
      assert.equal((await h.client.getWorkflow(runId)).status, "RUNNING", "written while the children's batch waits");
    } finally {
      letGo();
      store.takeTreeRuns = take;
    }
    assert.deepEqual(
      (await Promise.all(children)).map((c) => c.created),
      [true, true],
    );
  });
});
