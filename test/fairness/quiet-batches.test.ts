// A quiet fairness key's start goes in a batch of its own while another
// key floods (runtime/batches.ts): in the bench's flood, one in twenty-five
// of a small key's starts waited for one of the four batches in flight, then
// shared a transaction with 40-60 of the flood's runs (locked, read, decided
// and written before it committed: 83 ms against 23 for a batch of its own).
// Here the flood's batches are held at a door (the store's write) until the
// test lets go, so all four slots stay taken: played, not timed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { QUIET_ITEMS } from "../../server/src/runtime/batches.js";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

let h: Harness;
const FLOW = "quiet_batches";

before(async () => {
  h = await startHarness();
  await h.client.registerWorkflowDef({ ...flowOf(FLOW, [{ name: "wait", taskReferenceName: "wait", type: "WAIT" }]), fairnessKey: "${workflow.input.tenant}" });
});
after(() => h.close());

describe("a quiet key under another key's flood", () => {
  it("starts in a batch of its own, past the four batches the flood holds, and is answered before they commit", { timeout: 120_000 }, async () => {
    const { engine, store } = h.server;
    // The definition cached.
    await engine.start({ name: FLOW, input: { tenant: "warm" } });
    const write = store.writeBatch;
    let letGo = () => {};
    const door = new Promise<void>((resolve) => (letGo = resolve));
    /** The tenants of each batch written, in order; the flood's wait at the door. */
    const written: string[][] = [];
    let held = 0;
    store.writeBatch = async (q, batch, options) => {
      const tenants = batch.newRuns.map((run) => String(run.input["tenant"]));
      written.push(tenants);
      if (tenants.includes("big")) {
        held++;
        await door;
      }
      return write(q, batch, options);
    };
    const flood: Promise<unknown>[] = [];
    try {
      // The flood's starts until its batches hold every slot, and then more than a quiet key's few waiting for one.
      const more = () => {
        for (let i = 0; i <= QUIET_ITEMS; i++) flood.push(engine.start({ name: FLOW, input: { tenant: "big" }, caller: "flood" }));
      };
      while (held < 4) {
        const before = held;
        more();
        await eventually(
          async () => held,
          (n) => n > before,
        );
      }
      more();
      await eventually(
        async () => (engine as unknown as { queue: { size: number } }).queue.size,
        (n) => n > QUIET_ITEMS,
      );

      let answered = false;
      const small = h.client.startWorkflow(FLOW, { tenant: "small" }).then((id) => {
        answered = true;
        return id;
      });
      await eventually(
        async () => answered,
        (done) => done,
        60_000,
      );
      const run = await h.client.getWorkflow(await small);
      assert.equal(run.status, "RUNNING", "written while the flood's batches wait");
      assert.equal(held, 4, "the flood's batches still held");
      assert.deepEqual(
        written.filter((tenants) => tenants.includes("small")),
        [["small"]],
        "in a batch of its own",
      );
    } finally {
      letGo();
      store.writeBatch = write;
    }
    await Promise.all(flood);
    // Once let go, the flood's waiting starts go in batches of their own kind.
    assert.ok(written.every((tenants) => tenants.every((t) => t === tenants[0])));
  });
});
