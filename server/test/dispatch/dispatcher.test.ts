// A worker's stream is never handed more tasks than it has credits for, even
// when a hand-off at commit, or a claim for another of its task types, takes
// credits while a claim for it is out: what the claim brings back beyond the
// credits left goes back to the queue. The store here answers claims when the
// test says, so the race is played in order rather than hoped for.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ManualClock } from "../../src/clock.js";
import { Dispatcher, type Waiter } from "../../src/dispatch/dispatcher.js";
import { createLogger } from "../../src/logger.js";
import type { ClaimedTask } from "../../src/store/store.js";

function task(id: string, defName: string): ClaimedTask {
  return { id, defName, leaseToken: `lease-${id}`, leaseExpiresAt: 60_000 } as unknown as ClaimedTask;
}

/** A store whose claims wait for the test to answer them, and which records requeues. */
function heldStore() {
  const claims: { type: string; count: number; answer: (tasks: ClaimedTask[]) => void }[] = [];
  const requeued: string[] = [];
  const store = {
    claim: (type: string, count: number) =>
      new Promise<ClaimedTask[]>((answer) => {
        claims.push({ type, count, answer });
      }),
    requeue: async (id: string) => {
      requeued.push(id);
      return true;
    },
    findTaskDefs: async () => new Map(),
    fairBacklog: () => false,
    fitsQuietRoom: () => false,
    // Whatever a claim would be answered with is there.
    readyTaskTypes: async (_now: number, among?: string[]) => among ?? [],
  };
  return { store, claims, requeued };
}

function streamWaiter(taskTypes: string[], credits: number) {
  const got: string[] = [];
  const waiter: Waiter = {
    taskTypes,
    workerId: "w1",
    credits,
    stream: true,
    deliver: (tasks) => got.push(...tasks.map((t) => t.id)),
  };
  return { waiter, got };
}

const settle = () => new Promise((r) => setImmediate(r));

describe("dispatcher credits", () => {
  it("hands a stream no more than its credits left when a hand-off took one during the claim", async () => {
    const { store, claims, requeued } = heldStore();
    const dispatcher = new Dispatcher(store as never, new ManualClock(), createLogger("silent"));
    const { waiter, got } = streamWaiter(["t"], 3);
    dispatcher.add(waiter);
    await settle();
    assert.equal(claims.length, 1);
    assert.equal(claims[0]!.count, 3);

    // A task handed over at commit takes a credit while the claim is out.
    const reservation = dispatcher.reserve("t");
    assert.ok(reservation);
    assert.ok(reservation.deliver(task("handed", "t")));

    claims[0]!.answer([task("a", "t"), task("b", "t"), task("c", "t")]);
    await settle();
    await settle();
    assert.deepEqual(got, ["handed", "a", "b"], "three tasks for three credits");
    assert.equal(waiter.credits, 0);
    assert.deepEqual(requeued, ["c"], "the one beyond its credits goes back to the queue");
  });

  it("shares a stream's credits between claims for two of its types", async () => {
    const { store, claims, requeued } = heldStore();
    const dispatcher = new Dispatcher(store as never, new ManualClock(), createLogger("silent"));
    const { waiter, got } = streamWaiter(["x", "y"], 2);
    dispatcher.add(waiter);
    await settle();
    assert.deepEqual(
      claims.map((c) => [c.type, c.count]),
      [
        ["x", 2],
        ["y", 2],
      ],
    );
    claims[0]!.answer([task("x1", "x"), task("x2", "x")]);
    await settle();
    claims[1]!.answer([task("y1", "y"), task("y2", "y")]);
    await settle();
    await settle();
    assert.deepEqual(got, ["x1", "x2"]);
    assert.equal(waiter.credits, 0);
    assert.deepEqual(requeued.sort(), ["y1", "y2"]);
  });

  it("a quiet key's task reserved in place of a held one takes a slot freed before its commit, when the stream holds none to give up any more", async () => {
    const { store, claims, requeued } = heldStore();
    const dispatcher = new Dispatcher(store as never, new ManualClock(), createLogger("silent"));
    let holding = true;
    const got: string[] = [];
    const waiter: Waiter = {
      taskTypes: ["t"],
      workerId: "w1",
      credits: 0,
      stream: true,
      deliver: (tasks) => got.push(...tasks.map((t) => t.id)),
      yields: () => holding,
      swap: (t) => holding && got.push(t.id) > 0,
    };
    dispatcher.add(waiter);
    await settle();
    const reservation = dispatcher.reserve("t", "quiet", "small");
    assert.ok(reservation, "reserved in place of a task the stream holds");

    // Before the commit, the stream writes what it held and its worker frees a slot (a claim goes out for it).
    holding = false;
    dispatcher.credit(waiter, 1);
    await settle();
    assert.ok(reservation.deliver(task("quiet", "t")), "handed over, not back to the queue");
    assert.deepEqual(got, ["quiet"]);
    assert.equal(waiter.credits, 0);

    claims.at(-1)!.answer([task("a", "t")]);
    await settle();
    await settle();
    assert.deepEqual(got, ["quiet"], "the claim brings back nothing beyond the credits left");
    assert.deepEqual(requeued, ["a"]);
  });
});
