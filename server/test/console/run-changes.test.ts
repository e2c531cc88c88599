// The console's watchers of a run: a watch that cancels its wait after it
// was woken (WatchWorkflow does, once it has read the run) leaves the run's
// later watchers in place, to be woken when the run moves again.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RunChanges } from "../../src/console/run-changes.js";

const RUN = "8d3c4f0e-2222-4a4a-9b9b-000000000002";
const LONG_MS = 60_000;

describe("run changes", () => {
  it("wake a later watcher when the run moves, after an earlier watch cancelled its wait once woken", async () => {
    const changes = new RunChanges();
    const first = changes.wait(RUN, LONG_MS);
    changes.moved(RUN);
    await first.promise;

    let woken = false;
    const later = changes.wait(RUN, LONG_MS);
    void later.promise.then(() => (woken = true));
    first.cancel();
    assert.equal(changes.watching, 1, "the later watcher is still counted");
    changes.moved(RUN);
    await new Promise((resolve) => setImmediate(resolve));
    later.cancel();
    assert.equal(woken, true, "the later watcher was left to its timeout");
    assert.equal(changes.watching, 0);
  });
});
