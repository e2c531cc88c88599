// The batch queue serves a lane with a cap of its own (a long loop's
// continuations) fairly: at most its cap of batches in flight, never sharing
// a batch with other events, while the other lanes' items go on past it
// (issue 14: a polite start shared a transaction with a 5,000-iteration
// loop's next 100 iterations, and three such loops held three of the four
// batches in flight). Each batch's write is held until the test ends it, so
// the order is played, not timed.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BatchQueue, QUIET_ITEMS } from "../../src/runtime/batches.js";

interface Item {
  lane: string;
  run: string;
  name: string;
  key?: string;
}

function heldQueue() {
  const batches: { names: string[]; end: () => void }[] = [];
  const queue = new BatchQueue<Item>(
    (items) =>
      new Promise<void>((end) => {
        batches.push({ names: items.map((i) => i.name), end });
      }),
    (item) => item.run,
    { maxInFlight: 4, maxItems: 500, laneMaxInFlight: { continue: 1 } },
  );
  return { queue, batches };
}

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

describe("the batch queue's lanes and keys", () => {
  it("a capped lane's items never share a batch with others, and wait for its own batch in flight while others go past", async () => {
    const { queue, batches } = heldQueue();
    queue.push({ lane: "wait", run: "p1", name: "polite 1" });
    queue.push({ lane: "continue", run: "loop1", name: "loop 1" });
    queue.push({ lane: "wait", run: "p2", name: "polite 2" });
    await turn();
    assert.deepEqual(
      batches.map((b) => b.names),
      [["polite 1", "polite 2"], ["loop 1"]],
    );

    // Another loop's continuation and another start, while loop 1's batch is written: the start goes, the loop waits.
    queue.push({ lane: "continue", run: "loop2", name: "loop 2" });
    queue.push({ lane: "continue", run: "loop3", name: "loop 3" });
    queue.push({ lane: "wait", run: "p3", name: "polite 3" });
    await turn();
    assert.deepEqual(
      batches.map((b) => b.names),
      [["polite 1", "polite 2"], ["loop 1"], ["polite 3"]],
    );
    assert.equal(queue.size, 2);

    // Loop 1's batch ends: the waiting continuations go, together.
    batches[1]!.end();
    await turn();
    assert.deepEqual(batches[3]!.names, ["loop 2", "loop 3"]);
    assert.equal(queue.size, 0);
  });

  it("lanes without a cap share the slots as before", async () => {
    const { queue, batches } = heldQueue();
    for (let i = 0; i < 6; i++) {
      queue.push({ lane: "wait", run: "r", name: `event ${i}` });
      await turn();
    }
    // One run's events: never in two batches at once, so the rest wait together for the first.
    assert.deepEqual(
      batches.map((b) => b.names),
      [["event 0"]],
    );
    batches[0]!.end();
    await turn();
    assert.deepEqual(batches[1]!.names, ["event 1", "event 2", "event 3", "event 4", "event 5"]);
  });

  it("a quiet key's items go in a batch of their own, first, and one more past the limit while a flood's batches hold every slot", async () => {
    const { queue, batches } = heldQueue();
    // A flood: its results come more than QUIET_ITEMS at a time, each lot in the next slot, until all four are held.
    const floodLot = (slot: number) => {
      for (let i = 0; i <= QUIET_ITEMS; i++) queue.push({ lane: "wait", run: `f${slot}.${i}`, key: "big", name: `flood ${slot}.${i}` });
    };
    for (let slot = 0; slot < 4; slot++) {
      floodLot(slot);
      await turn();
    }
    assert.equal(batches.length, 4);
    // More of the flood and a quiet key's start, in one turn.
    queue.push({ lane: "wait", run: "g1", key: "big", name: "flood waits" });
    queue.push({ lane: "wait", run: "s1", key: "small", name: "small 1" });
    queue.push({ lane: "wait", run: "g2", key: "big", name: "flood waits too" });
    await turn();
    assert.deepEqual(batches[4]?.names, ["small 1"], "the quiet key's item goes alone, in a fifth batch");
    // Another quiet item waits for a slot: one batch past the limit at most.
    queue.push({ lane: "wait", run: "s2", key: "small", name: "small 2" });
    await turn();
    assert.equal(batches.length, 5);
    // A flood's batch ends: the quiet item goes first, alone, and the flood's wait for the next slot.
    batches[0]!.end();
    await turn();
    assert.deepEqual(
      batches.slice(5).map((b) => b.names),
      [["small 2"]],
    );
    // Five in flight: the flood's next batch goes once two have ended.
    batches[4]!.end();
    await turn();
    assert.equal(batches.length, 6);
    batches[1]!.end();
    await turn();
    assert.deepEqual(
      batches.slice(6).map((b) => b.names),
      [["flood waits", "flood waits too"]],
    );
  });

  it("only the key with the most items floods: another with more than QUIET_ITEMS still goes apart from it, first", async () => {
    const { queue, batches } = heldQueue();
    for (let slot = 0; slot < 4; slot++) {
      for (let i = 0; i < 3 * QUIET_ITEMS; i++) queue.push({ lane: "wait", run: `f${slot}.${i}`, key: "big", name: `flood ${slot}.${i}` });
      await turn();
    }
    assert.equal(batches.length, 4);
    const small = Array.from({ length: QUIET_ITEMS + 4 }, (_, i) => `small ${i}`);
    queue.push({ lane: "wait", run: "g", key: "big", name: "flood waits" });
    for (const name of small) queue.push({ lane: "wait", run: name, key: "small", name });
    queue.push({ lane: "wait", run: "u", name: "unknown key waits" });
    await turn();
    assert.deepEqual(
      batches.slice(4).map((b) => b.names),
      [small],
    );
  });

  it("keys with few items share batches as before", async () => {
    const { queue, batches } = heldQueue();
    queue.push({ lane: "wait", run: "a", key: "a", name: "a" });
    queue.push({ lane: "wait", run: "b", key: "b", name: "b" });
    queue.push({ lane: "wait", run: "c", name: "unknown key" });
    await turn();
    assert.deepEqual(
      batches.map((b) => b.names),
      [["a", "b", "unknown key"]],
    );
  });
});
