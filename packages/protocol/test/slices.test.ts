// Pieces of long work running at once take their slices in turns of the
// event loop of their own: resumed each by its own setImmediate, four
// callers' slices ran back to back in one turn, and the loop was held for
// all of them.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Slices, SLICE_MS } from "@baton/protocol";

/** Holds the thread a little over a slice: every item of such work ends a slice. */
function busy(): void {
  const until = performance.now() + SLICE_MS + 1;
  while (performance.now() < until);
}

/** Turns of the event loop, counted by a chain of setImmediate (one link per turn). */
function countTurns(): { readonly now: number; stop(): void } {
  let now = 0;
  let counting = true;
  const tick = () => {
    now++;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get now() {
      return now;
    },
    stop: () => (counting = false),
  };
}

describe("Slices", () => {
  it("of works running at once go on one per turn of the event loop, in the order they yielded", async () => {
    const turns = countTurns();
    const seen: { work: number; turn: number }[] = [];
    const work = async (id: number) => {
      const slices = new Slices();
      for (let i = 0; i < 6; i++) {
        if (slices.due()) await slices.yield();
        seen.push({ work: id, turn: turns.now });
        busy();
      }
    };
    await Promise.all([0, 1, 2, 3].map(work));
    turns.stop();
    // Each item ended a slice: after the first turn, each item ran in a turn of its own.
    const later = seen.slice(4);
    assert.equal(later.length, 20);
    assert.equal(new Set(later.map((s) => s.turn)).size, later.length, `turns ${later.map((s) => `${s.work}@${s.turn}`).join(" ")}`);
    // Round and round: each work's next slice after the other three's.
    assert.deepEqual(
      later.map((s) => s.work),
      Array.from({ length: 20 }, (_, i) => i % 4),
    );
  });
});
