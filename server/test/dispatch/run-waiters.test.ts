// Callers waiting for a run to end (start-and-wait, WaitWorkflow): a waiter
// whose call's signal is aborted after it was answered (grpc-js says
// "cancelled" once every call's status is sent) leaves the run's later
// waiters in place, to be woken when the run ends again.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RunWaiters } from "../../src/dispatch/run-waiters.js";

const RUN = "8d3c4f0e-1111-4a4a-9b9b-000000000001";
const LONG_MS = 60_000;

describe("run waiters", () => {
  it("wake a later waiter when the run ends, after an earlier waiter's signal was aborted once answered", async () => {
    const waiters = new RunWaiters();
    const first = new AbortController();
    const answered = waiters.wait(RUN, LONG_MS, first.signal);
    waiters.ended(RUN);
    await answered.promise;

    let woken = false;
    const later = waiters.wait(RUN, LONG_MS);
    void later.promise.then(() => (woken = true));
    first.abort(); // the first call's "cancelled", after its answer
    waiters.ended(RUN);
    await new Promise((resolve) => setImmediate(resolve));
    later.cancel();
    assert.equal(woken, true, "the later waiter was left to its timeout");
  });

  it("wake a waiter once, whatever ends it first", async () => {
    const waiters = new RunWaiters();
    const signal = new AbortController();
    let wakes = 0;
    const waiter = waiters.wait(RUN, LONG_MS, signal.signal);
    void waiter.promise.then(() => wakes++);
    signal.abort();
    waiters.ended(RUN);
    waiter.cancel();
    await waiter.promise;
    assert.equal(wakes, 1);
  });
});
