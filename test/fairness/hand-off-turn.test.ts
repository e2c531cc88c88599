// A task made ready while a worker of its type waits with a free slot is
// handed to it at commit (runtime/hand-off.ts), but not while tasks of that
// type from keyed runs are queued: then it waits its turn in the fair claim
// rather than pass them. A worker only has a free slot while keyed tasks wait
// for as long as a claim for it is running, so the test holds the server's
// claims at the door (the real claim runs once they are let go): the moment
// lasts as long as the test needs. Only a stream of 32 slots or more keeps
// one free of the claims, for a key with nothing queued: its task is handed
// over at commit, though a flood's handlers hold every other slot; a key's
// tasks that found that slot taken are owed the worker's next free slots (up
// to half its slots); and one past those is claimed into the slot once it is
// free, not after a slot of the flood's. Real server, PostgreSQL and worker.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { Worker } from "@baton/client";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { holdingWorker } from "./lib/holding-worker.js";
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

describe("the slots a stream keeps for quiet keys", () => {
  it("a flood's claims leave one of 32 slots free, and a key with nothing queued is handed it at commit", async () => {
    for (let n = 0; n < 40; n++) await h.client.startWorkflow("turn_fair", { tenant: "flood", n });
    // The flood's tasks keep their slots until the test lets go.
    const { received, stop } = holdingWorker(h, TYPE, "quiet-worker", (tenant) => tenant === "flood");
    try {
      await eventually(
        async () => received.length,
        (n) => n === 31,
      );
      const quiet = await h.client.startWorkflow("turn_fair", { tenant: "quiet", n: 99 });
      const [task] = (await h.client.getWorkflow(quiet, { includeTasks: true })).tasks;
      assert.notEqual(task?.status, "SCHEDULED", "handed over at commit, not queued behind the flood");
      await eventually(
        async () => received.filter((t) => t === "quiet").length,
        (n) => n === 1,
      );
      assert.equal(received.filter((t) => t === "flood").length, 31, "the flood had 31 of the 32 slots, no more");
    } finally {
      await stop();
    }
  });
});

describe("a quiet key's task that found the room taken", () => {
  it("is claimed into the room once it frees, and the key's next task is handed over at commit, while the flood holds its slots", async () => {
    for (let n = 0; n < 40; n++) await h.client.startWorkflow("turn_fair", { tenant: "flood2", n });
    let letFloodGo = () => {};
    const flood = new Promise<void>((resolve) => (letFloodGo = resolve));
    let letFirstGo = () => {};
    const first = new Promise<void>((resolve) => (letFirstGo = resolve));
    const received: string[] = [];
    const worker = new Worker({ address: h.server.address, workerId: "room-worker", onError: () => {} });
    worker.handle<{ tenant: string }>(
      TYPE,
      async (input) => {
        const calm = received.filter((t) => t.startsWith("calm:")).length + 1;
        received.push(input.tenant === "calm" ? `calm:${calm}` : `${input.tenant}:`);
        if (input.tenant === "flood2") await flood;
        if (input.tenant === "calm" && calm === 1) await first;
        return {};
      },
      { concurrency: 32 },
    );
    const status = async (runId: string) => (await h.client.getWorkflow(runId, { includeTasks: true })).tasks[0]?.status;
    const floodHeld = () => received.filter((t) => t.startsWith("flood2:")).length;
    try {
      worker.start();
      await eventually(
        async () => floodHeld(),
        (n) => n === 31,
      );

      const one = await h.client.startWorkflow("turn_fair", { tenant: "calm", n: 1 });
      assert.equal(await status(one), "IN_PROGRESS", "handed over at commit to the slot kept for quiet keys");
      // The stream owes up to half its slots: its next 16 free ones.
      for (let n = 2; n <= 17; n++) {
        const owed = await h.client.startWorkflow("turn_fair", { tenant: "calm", n });
        assert.equal(await status(owed), "IN_PROGRESS", "handed over at commit, owed one of the worker's next free slots");
      }
      const queued = await h.client.startWorkflow("turn_fair", { tenant: "calm", n: 18 });
      assert.equal(await status(queued), "SCHEDULED", "the room was taken (by its first task) and as many slots owed as the stream may: queued");

      letFirstGo();
      await eventually(async () => received.includes("calm:18"), Boolean);
      assert.equal(
        floodHeld(),
        31,
        "the owed one took the slot the first task left, and the queued one was claimed into it after, the flood's slots still held",
      );

      // Once the room's slot is free again (the worker credited it back), the key has nothing queued: its next task goes at commit.
      await eventually(
        async () => (await h.client.tasks.listWorkers({ taskType: TYPE })).workers.find((w) => w.workerId === "room-worker")?.freeSlots,
        (n) => n === 1n,
      );
      const next = await h.client.startWorkflow("turn_fair", { tenant: "calm", n: 19 });
      assert.notEqual(await status(next), "SCHEDULED", "handed over at commit: its key left the claim's turns when its last queued task was claimed");
      await eventually(async () => received.includes("calm:19"), Boolean);
      assert.equal(floodHeld(), 31);
    } finally {
      letFirstGo();
      letFloodGo();
      await worker.stop();
    }
  });
});
