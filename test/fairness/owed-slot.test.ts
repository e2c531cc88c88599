// A quiet key's task made ready while another key's flood holds every slot
// of the only stream, all of it written to the worker (it keeps up: nothing
// held unwritten to give way), is still handed over at commit: it is owed
// the stream's next free slot, ahead of the flood's next claim
// (dispatch/dispatcher.ts). In the fairness bench's flood, such tasks of a
// burst larger than the stream's quiet room were queued and claimed 21-175 ms
// later. A stream owes up to half its slots, highest priority first; they go back to the queue when the stream ends or
// after a second without a free slot. Real server, PostgreSQL, gRPC and
// stream; the worker frees slots only when the test grants credits, and time
// moves only when the test moves it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DispatchResponse } from "@baton/protocol";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { registerTenantFlow } from "./lib/tenant-flow.js";
import { queueDepth } from "./lib/queue-depth.js";

const FLOOD = 80;
/** The stream's slots: it keeps 64 / 32 = 2 of them for quiet keys while keyed tasks are queued, and owes up to 32. */
const CREDITS = 64;
const QUIET_SLOTS = 2;
const OWED = 32;

let h: Harness;

before(async () => {
  h = await startHarness();
});
after(() => h.close());

const depth = (type: string) => queueDepth(h.client, type);
const taskOf = async (runId: string) => (await h.client.getWorkflow(runId, { includeTasks: true })).tasks[0]!;

/** A stream granted CREDITS once the flood is queued, that has received every slot's task but the quiet ones. */
async function floodedStream(type: string) {
  for (let n = 0; n < FLOOD; n++) await h.client.startWorkflow(type, { tenant: "flood", n });
  const stream = h.client.tasks.dispatch();
  stream.on("error", () => {});
  const received: { tenant: string; n: number }[] = [];
  stream.on("data", (message: DispatchResponse) => {
    if (message.task) received.push(JSON.parse(message.task.inputJson) as { tenant: string; n: number });
  });
  stream.write({ kind: { case: "subscribe", value: { taskTypes: [type], workerId: `worker-${type}`, domain: "" } } });
  stream.write({ kind: { case: "credits", value: CREDITS } });
  await eventually(
    async () => received.length,
    (n) => n >= CREDITS - QUIET_SLOTS,
  );
  assert.equal(Number((await depth(type))?.inProgress), CREDITS - QUIET_SLOTS, "the flood's claims left the quiet slots free");
  // A quiet key takes them.
  for (let n = 0; n < QUIET_SLOTS; n++) {
    const run = await h.client.startWorkflow(type, { tenant: "quiet", n });
    assert.equal((await taskOf(run)).status, "IN_PROGRESS", "handed over at commit to a quiet slot");
  }
  await eventually(
    async () => received.length,
    (n) => n === CREDITS,
  );
  return { stream, received };
}

describe("a quiet key's task with every slot of the stream written to its worker", () => {
  it("is handed over at commit and takes the worker's next free slot, ahead of the flood, highest priority first", async () => {
    const type = "owed_next";
    await registerTenantFlow(h.client, type, ["n"]);
    const { stream, received } = await floodedStream(type);
    try {
      const low = await h.client.startWorkflow(type, { tenant: "quiet", n: 10 });
      const high = await h.client.startWorkflow(type, { tenant: "quiet", n: 11 }, { priority: 5 });
      for (const run of [low, high]) {
        const task = await taskOf(run);
        assert.equal(task.status, "IN_PROGRESS", "handed over at commit, not queued behind the flood's claims");
        assert.equal(task.startTime, task.scheduledTime);
      }
      for (let n = 12; n < 10 + OWED; n++) assert.equal((await taskOf(await h.client.startWorkflow(type, { tenant: "quiet", n }))).status, "IN_PROGRESS");
      assert.equal(received.length, CREDITS, "the worker has no slot free for them yet");
      // Past what the stream may owe: queued.
      const queued = await h.client.startWorkflow(type, { tenant: "quiet", n: 10 + OWED });
      assert.equal((await taskOf(queued)).status, "SCHEDULED");
      // The worker frees a slot at a time: the owed tasks take them, the higher priority first.
      stream.write({ kind: { case: "credits", value: 1 } });
      await eventually(
        async () => received.length,
        (n) => n > CREDITS,
      );
      stream.write({ kind: { case: "credits", value: 1 } });
      await eventually(
        async () => received.length,
        (n) => n > CREDITS + 1,
      );
      assert.deepEqual(received.slice(CREDITS), [
        { tenant: "quiet", n: 11 },
        { tenant: "quiet", n: 10 },
      ]);
    } finally {
      stream.cancel();
    }
  });

  it("goes back to the queue when no slot comes free for a second, or the stream ends", async () => {
    const type = "owed_back";
    await registerTenantFlow(h.client, type, ["n"]);
    const first = await floodedStream(type);
    let runs: string[] = [];
    try {
      runs = [await h.client.startWorkflow(type, { tenant: "quiet", n: 10 })];
      assert.equal((await taskOf(runs[0]!)).status, "IN_PROGRESS");
      await h.advance(999);
      assert.equal((await taskOf(runs[0]!)).status, "IN_PROGRESS", "still owed a slot");
      await h.advance(1);
      await eventually(
        async () => (await taskOf(runs[0]!)).status,
        (status) => status === "SCHEDULED",
      );
      runs = [await h.client.startWorkflow(type, { tenant: "quiet", n: 11 })];
      assert.equal((await taskOf(runs[0]!)).status, "IN_PROGRESS");
    } finally {
      first.stream.cancel();
    }
    await eventually(
      async () => (await taskOf(runs[0]!)).status,
      (status) => status === "SCHEDULED",
    );
    assert.equal(first.received.filter((t) => t.tenant === "quiet" && t.n >= 10).length, 0, "neither went out to the worker");
  });
});
