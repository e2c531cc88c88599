// A dispatch stream's sender writes a few of the tasks handed to it at a
// time and takes the next in turn across fairness keys, so a small key's task
// goes out ahead of a flood's backlog held for the same stream; what it still
// holds when the stream ends goes back to the queue (it never went out), as
// does what was written and had not gone out when the call ended, and a
// task held for half the lease it had left goes back instead of out. The
// stream here is a list of writes whose "gone out" the test signals.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { StreamSender } from "../../src/dispatch/stream-sender.js";
import type { ClaimedTask } from "../../src/store/store.js";

function task(id: string, fairKey: string, leaseExpiresAt = 600_000): ClaimedTask {
  return {
    id,
    leaseExpiresAt,
    run: { name: "flow", version: 1, correlationId: "", priority: 0, fairKey },
  } as unknown as ClaimedTask;
}

/** A sender over a stream that keeps what it was written, and a hand to let the oldest write go out. */
function stream(limit: number, now = () => 0) {
  const written: string[] = [];
  const pending: (() => void)[] = [];
  const stale: string[] = [];
  const sender = new StreamSender(
    (t, sent) => {
      written.push(t.id);
      pending.push(sent);
    },
    () => limit,
    now,
    (t) => stale.push(t.id),
  );
  return { sender, written, stale, goOut: () => pending.shift()!() };
}

describe("a dispatch stream's sender", () => {
  it("writes no more than the limit before they go out, and the next as each goes out", () => {
    const { sender, written, goOut } = stream(4);
    sender.push(Array.from({ length: 10 }, (_, i) => task(`flood-${i}`, "flood")));
    assert.equal(written.length, 4);
    assert.equal(sender.holding, 6);
    goOut();
    goOut();
    assert.deepEqual(written, ["flood-0", "flood-1", "flood-2", "flood-3", "flood-4", "flood-5"], "in claim order within a key");
    assert.equal(sender.holding, 4);
  });

  it("sends a small key's task ahead of a flood's backlog held for the same stream", () => {
    const { sender, written, goOut } = stream(4);
    sender.push(Array.from({ length: 40 }, (_, i) => task(`flood-${i}`, "flood")));
    sender.push([task("small-0", "small"), task("small-1", "small")]);
    // A key holding nothing unwritten here has one task written at once, past the limit; its next task is held.
    assert.deepEqual(written.slice(4), ["small-0"]);
    // Each write that goes out lets one more in (the first only brings the count back to the limit): the keys take turns.
    for (let i = 0; i < 4; i++) goOut();
    assert.deepEqual(written.slice(4), ["small-0", "flood-4", "small-1", "flood-5"], "the small key's first at once, then in turn");
    assert.equal(sender.holding, 40 - 6);
  });

  it("gives a quiet key's task the place of the last held task of the key holding the most, while it holds at least two more", () => {
    const { sender, written, goOut } = stream(2);
    sender.push(Array.from({ length: 5 }, (_, i) => task(`flood-${i}`, "flood")));
    assert.equal(sender.holding, 3);
    assert.equal(sender.yields("flood"), false, "never for the key that holds the most");
    assert.equal(sender.swap(task("small-0", "small"))?.id, "flood-4", "the flood's last, never written");
    assert.deepEqual(written, ["flood-0", "flood-1", "small-0"], "written at once: its key held nothing unwritten");
    assert.equal(sender.holding, 2, "one fewer held, one more written: the stream holds as many");
    assert.ok(sender.swap(task("small-1", "small")), "flood holds 2, small none");
    assert.deepEqual(written.slice(3), ["small-1"], "written at once too: the room past the limit is as much again");
    // flood holds 1, small none.
    assert.equal(sender.yields("small"), false);
    assert.equal(sender.swap(task("small-2", "small")), undefined);
    goOut();
    goOut();
    goOut();
    assert.deepEqual(written.slice(4), ["flood-2"], "once those written are down to the limit");
  });

  it("counts the swaps any other key would get in a row: half the gap between the key holding the most and the next", () => {
    const { sender } = stream(2);
    sender.push(Array.from({ length: 10 }, (_, i) => task(`flood-${i}`, "flood")));
    sender.push([task("small-0", "small"), task("small-1", "small")]);
    assert.equal(sender.spare(), 3, "flood holds 8, small 1 (its first was written at once)");
    for (let i = 2; i <= 4; i++) assert.ok(sender.swap(task(`small-${i}`, "small")), `swap ${i}`);
    assert.equal(sender.swap(task("small-5", "small")), undefined, "flood 5, small 4: no more");
    assert.equal(sender.spare(), 0);
  });

  it("writes everything at once while the limit allows", () => {
    const { sender, written } = stream(Infinity);
    sender.push(Array.from({ length: 50 }, (_, i) => task(`t-${i}`, "")));
    assert.equal(written.length, 50);
    assert.equal(sender.holding, 0);
  });

  it("gives back what it holds when the stream ends, and takes nothing after", () => {
    const { sender, written, goOut } = stream(2);
    sender.push([task("a-0", "a"), task("a-1", "a"), task("a-2", "a"), task("b-0", "b")]);
    const left = sender.close();
    assert.deepEqual(left.map((t) => t.id).sort(), ["a-1", "a-2"], "the two never written (b's took the second turn)");
    assert.equal(sender.push([task("late", "a")]), false, "the caller puts it back in the queue");
    goOut();
    assert.deepEqual(written, ["a-0", "b-0"], "nothing written after the end");
  });

  it("gives back, once the call is over, what was written and never went out, but not what went out", () => {
    const { sender, written, goOut } = stream(2);
    sender.push([task("a-0", "a"), task("a-1", "a"), task("a-2", "a"), task("a-3", "a")]);
    goOut(); // a-0 went out, a-2 written in its place
    assert.deepEqual(written, ["a-0", "a-1", "a-2"]);
    const held = sender.close(); // the worker half-closed: what was written may still go out to it
    assert.deepEqual(
      held.map((t) => t.id),
      ["a-3"],
    );
    goOut(); // a-1 went out before the call ended
    const lost = sender.lost();
    assert.deepEqual(
      lost.map((t) => t.id),
      ["a-2"],
      "the one written whose write never went out",
    );
    goOut(); // a late call back writes nothing and gives nothing back twice
    assert.deepEqual(sender.lost(), []);
    assert.deepEqual(written, ["a-0", "a-1", "a-2"]);
  });

  it("gives back both what it held and what never went out when the call ends at once", () => {
    const { sender } = stream(2);
    sender.push([task("a-0", "a"), task("a-1", "a"), task("b-0", "b")]);
    assert.deepEqual(
      sender
        .lost()
        .map((t) => t.id)
        .sort(),
      ["a-0", "a-1", "b-0"],
    );
  });

  it("gives a task held for half the lease it had left back instead of writing it", () => {
    let now = 0;
    const { sender, written, stale, goOut } = stream(1, () => now);
    sender.push([task("first", "a", 10_000), task("held", "a", 10_000)]);
    assert.deepEqual(written, ["first"]);
    now = 6_000; // "held" has waited 6 s of its 10 s lease; "next" is handed over now
    sender.push([task("next", "a", 16_000)]);
    goOut();
    assert.deepEqual(stale, ["held"]);
    assert.deepEqual(written, ["first", "next"]);
  });

  it("writes a task whose lease was short from the start if it waited less than a second", () => {
    let now = 0;
    const { sender, written, stale, goOut } = stream(1, () => now);
    sender.push([task("first", "a", 100), task("short", "a", 100)]);
    now = 500;
    goOut();
    assert.deepEqual(stale, []);
    assert.deepEqual(written, ["first", "short"]);
  });
});
