// A task made ready while a worker of its type waits with a free slot is
// handed to it at commit (runtime/hand-off.ts), but not while tasks of that
// type from keyed runs are queued: then it waits its turn in the fair claim
// rather than pass them. A worker only has a free slot while keyed tasks wait
// for as long as a claim for it is running, so the test holds the server's
// claims at the door (the real claim runs once they are let go): the moment
// lasts as long as the test needs. Real server, PostgreSQL and worker.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Worker } from "@baton/client";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { registerTenantFlow } from "./lib/tenant-flow.js";

const TYPE = "turn_fair";
let h: Harness;

before(async () => {
  h = await startHarness({ manualClock: true });
  await registerTenantFlow(h.client, TYPE);
});
after(async () => {
  await h.close();
});

describe("the hand-off at commit and fair claims", () => {
  it("a key's task made ready while other keys' tasks are queued waits its turn, not handed to the waiting worker", async () => {
    for (let n = 0; n < 4; n++) await h.client.startWorkflow("turn_fair", { tenant: "big", n });

    const store = h.server.store;
    const claim = store.claim;
    let letGo = () => {};
    const door = new Promise<void>((resolve) => (letGo = resolve));
    let claims = 0;
    store.claim = async (...args) => {
      claims++;
      await door;
      return claim(...args);
    };
    const received: string[] = [];
    const worker = new Worker({ address: h.server.address, workerId: "turn-worker", onError: () => {} });
    worker.handle<{ tenant: string }>(TYPE, (input) => {
      received.push(input.tenant);
      return {};
    });
    try {
      worker.start();
      // The worker's slot is in: its claim waits at the door, so the slot stays free.
      await eventually(
        async () => claims,
        (n) => n > 0,
      );
      const small = await h.client.startWorkflow("turn_fair", { tenant: "small", n: 9 });
      const [task] = (await h.client.getWorkflow(small, { includeTasks: true })).tasks;
      assert.equal(task?.status, "SCHEDULED", "queued for the fair claim, not handed over at commit");
      assert.deepEqual(received, []);

      letGo();
      await eventually(
        async () => received.length,
        (n) => n === 5,
      );
      assert.deepEqual(received, ["big", "small", "big", "big", "big"], "its turn comes after one of big's, not after all of them");
    } finally {
      store.claim = claim;
      letGo();
      await worker.stop();
    }
  });
});
