// A dispatch stream writes a few of the tasks it was handed at a time while
// keyed tasks of its type are queued, holds the rest, and writes the next in
// turn across keys (dispatch/stream-sender.ts): a small key's task goes out
// ahead of a flood's backlog held for the same stream, written at once when
// its key holds nothing unwritten there. Held tasks are leased
// to its worker but never went out: when the stream ends they go back to the
// queue at once, for another worker, not after their lease, and so do those
// written to it that had not gone out; their keys take turns for them again.
// With no slot free, a quiet key's task handed over at commit takes the place
// of one of the flood's held tasks, which goes back to the queue; and a key
// with a few tasks queued is claimed into such a stream the same way, or has
// its next task handed over past them at their priority. Real server,
// PostgreSQL, gRPC and worker; the stream's worker reads nothing while the
// test says so, down to the socket (a relay that stops reading), so what was
// written to it stays unsent.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BatonClient, Worker } from "@baton/client";
import type { DispatchResponse } from "@baton/protocol";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { registerTenantFlow } from "./lib/tenant-flow.js";
import { relay } from "../support/relay.js";
import { queueDepth } from "./lib/queue-depth.js";

const FLOOD = 60;
const CREDITS = 40;
/** Written and not gone out at most, while keyed tasks are queued (service/tasks.ts). */
const UNSENT = 16;
/** Inputs the stalled socket holds only a few of, so writes wait to go out (16 of them stay under the stream's 4 MiB pause). */
const BLOB = "b".repeat(128 * 1024);

let h: Harness;

before(async () => {
  h = await startHarness({ manualClock: true });
  await registerTenantFlow(h.client, "held_order", ["blob"]);
  await registerTenantFlow(h.client, "held_release", ["blob"]);
  await registerTenantFlow(h.client, "held_swap", ["blob"]);
  await registerTenantFlow(h.client, "held_noted", ["blob"]);
  await registerTenantFlow(h.client, "held_claimed", ["blob"]);
});
after(() => h.close());

const depth = (type: string) => queueDepth(h.client, type);

/** A stream of a worker behind a stalled relay, granted CREDITS, once they are leased to it: the tasks leased. */
async function stalledStream(type: string, link: Awaited<ReturnType<typeof relay>>, queued = FLOOD) {
  const client = new BatonClient({ address: link.address });
  await client.tasks.listQueues({}); // connected
  link.stall();
  const stream = client.tasks.dispatch();
  stream.on("error", () => {});
  stream.write({ kind: { case: "subscribe", value: { taskTypes: [type], workerId: `slow-${type}`, domain: "" } } });
  stream.write({ kind: { case: "credits", value: CREDITS } });
  // Its credits' worth leased to it (less the slot a stream keeps for quiet keys), the rest queued.
  const leased = await eventually(
    async () => Number((await depth(type))?.inProgress ?? 0n),
    (n) => n >= CREDITS - 1,
  );
  assert.equal(Number((await depth(type))?.ready), queued - leased);
  return { client, stream };
}

describe("tasks a dispatch stream holds", () => {
  it("send a small key's task ahead of a flood's backlog held for the same stream", async () => {
    const type = "held_order";
    for (let n = 0; n < FLOOD; n++) await h.client.startWorkflow(type, { tenant: "flood", n, blob: BLOB });
    const link = await relay(h.server.address);
    const { client, stream } = await stalledStream(type, link);
    try {
      await h.client.startWorkflow(type, { tenant: "small", n: 0, blob: "" });
      // Room for it: a claim deals one slot to each key, or it was handed over at commit.
      stream.write({ kind: { case: "credits", value: 2 } });
      await eventually(
        async () => Number((await depth(type))?.inProgress ?? 0n),
        (n) => n >= CREDITS + 1,
      );
      const order: string[] = [];
      stream.on("data", (message: DispatchResponse) => {
        if (message.task) order.push((JSON.parse(message.task.inputJson) as { tenant: string }).tenant);
      });
      link.resume();
      await eventually(
        async () => order.includes("small"),
        (seen) => seen,
      );
      const at = order.indexOf("small");
      // Written all at once, it would come after every flood task claimed before it (39 or more); held, after one
      // more of the flood's, once one of those written had gone out. Its key had nothing there: it was written at once.
      assert.equal(at, UNSENT, `the small key's task came ${at + 1}th, behind ${at} of the flood's`);
    } finally {
      stream.cancel();
      client.close();
      link.close();
    }
  });

  it("give way to a quiet key's task handed over at commit when no slot is free: it takes the place of one of the flood's, which goes back to the queue", async () => {
    const type = "held_swap";
    for (let n = 0; n < FLOOD; n++) await h.client.startWorkflow(type, { tenant: "flood", n, blob: BLOB });
    const link = await relay(h.server.address);
    const { client, stream } = await stalledStream(type, link);
    const task = async (runId: string) => (await h.client.getWorkflow(runId, { includeTasks: true })).tasks[0];
    try {
      // The slot the stream keeps for quiet keys.
      const first = await h.client.startWorkflow(type, { tenant: "quiet-1", n: 0, blob: "" });
      assert.equal((await task(first))?.status, "IN_PROGRESS", "handed over at commit to the slot kept for quiet keys");
      const ready = Number((await depth(type))?.ready);
      // No slot free now: the stream holds the flood's tasks it cannot write yet.
      const second = await h.client.startWorkflow(type, { tenant: "quiet-2", n: 0, blob: "" });
      const handed = await task(second);
      assert.equal(handed?.status, "IN_PROGRESS", "handed over at commit, not queued until one of the flood's slots comes back");
      assert.equal(handed?.startTime, handed?.scheduledTime);
      // The flood's task it replaced is queued again, for a later claim; the stream holds as many as its credits allow.
      await eventually(
        async () => Number((await depth(type))?.ready),
        (n) => n === ready + 1,
      );
      assert.equal(Number((await depth(type))?.inProgress), CREDITS);
    } finally {
      stream.cancel();
      client.close();
      link.close();
    }
  });

  it("count for their key when they go back to the queue: its next task passes them only at their priority or above", async () => {
    const type = "held_noted";
    for (let n = 0; n < FLOOD; n++) await h.client.startWorkflow(type, { tenant: "flood", n, blob: BLOB });
    for (let n = 0; n < 2; n++) await h.client.startWorkflow(type, { tenant: "few", n, blob: BLOB }, { priority: 1 });
    const link = await relay(h.server.address);
    const { client, stream } = await stalledStream(type, link, FLOOD + 2);
    // The claims took both of few's tasks (the keys take turns): its count is 0, and it left the rotation.
    assert.equal(h.server.store.handOffRoom(type, "few", 0), "quiet");
    stream.cancel();
    link.close();
    client.close();
    // What the stream held goes back to the queue, few's two with it: a next task of a lower priority takes its
    // turn behind them; one of theirs may still be handed over at commit (they are few, waiting only because the
    // stream ended), but not one of the flood's, which has more waiting than a quiet key ever has.
    await eventually(
      async () => Number((await depth(type))?.inProgress ?? 0n),
      (n) => n === 0,
    );
    assert.equal(h.server.store.handOffRoom(type, "few", 0), "none");
    assert.equal(h.server.store.handOffRoom(type, "few", 1), "quiet");
    assert.equal(h.server.store.handOffRoom(type, "flood", 99), "none");
  });

  it("give way to a key with a few tasks queued, claimed into them though no slot is free", async () => {
    const type = "held_claimed";
    for (let n = 0; n < 2 * FLOOD; n++) await h.client.startWorkflow(type, { tenant: "flood", n, blob: BLOB });
    const inProgress = async () => Number((await depth(type))?.inProgress ?? 0n);
    const links = [await relay(h.server.address), await relay(h.server.address)];
    const streams = [];
    for (const [i, link] of links.entries()) {
      const client = new BatonClient({ address: link.address });
      await client.tasks.listQueues({});
      link.stall();
      const stream = client.tasks.dispatch();
      stream.on("error", () => {});
      stream.write({ kind: { case: "subscribe", value: { taskTypes: [type], workerId: `stalled-${i}`, domain: "" } } });
      stream.write({ kind: { case: "credits", value: CREDITS } });
      await eventually(inProgress, (n) => n >= (i + 1) * (CREDITS - 1));
      streams.push({ client, stream, link });
    }
    const task = async (runId: string) => (await h.client.getWorkflow(runId, { includeTasks: true })).tasks[0];
    try {
      // The slot each stream keeps for quiet keys, then a task swapped into the first stream for the flood's.
      for (let i = 0; i < 2; i++) await h.client.startWorkflow(type, { tenant: `quiet-${i}`, n: 0, blob: "" });
      const few = await h.client.startWorkflow(type, { tenant: "few", n: 0, blob: "" });
      assert.equal((await task(few))?.workerId, "stalled-0");
      // That stream goes: what it held goes back to the queue, few's task with it. The other has no slot free,
      // and holds the flood's tasks unwritten: few's is claimed into it in place of one of them.
      streams[0]!.stream.cancel();
      streams[0]!.link.close();
      streams[0]!.client.close();
      const back = await eventually(
        async () => task(few),
        (t) => t?.workerId === "stalled-1",
      );
      assert.equal(back?.status, "IN_PROGRESS");
    } finally {
      for (const { stream, client, link } of streams) {
        stream.cancel();
        client.close();
        link.close();
      }
    }
  });

  it("go back to the queue the moment the stream ends, and another worker gets them without waiting for their leases", async () => {
    const type = "held_release";
    for (let n = 0; n < FLOOD; n++) await h.client.startWorkflow(type, { tenant: "flood", n, blob: BLOB });

    const link = await relay(h.server.address);
    const { client: gone, stream } = await stalledStream(type, link);
    const received = new Set<string>();
    const other = new Worker({ address: h.server.address, workerId: "other", onError: () => {} });
    other.handle(
      type,
      (_input, context) => {
        received.add(context.taskId);
        return {};
      },
      { concurrency: FLOOD },
    );
    try {
      // The worker goes away; no clock moves, so no lease runs out.
      stream.cancel();
      link.close();
      gone.close();
      other.start();
      // Those written to its stream too: none went out (each is larger than the stream's 64 KiB window).
      // Settled: every task done by the other worker, nothing still leased to the one that left.
      await eventually(
        async () => ({ q: await depth(type), received: received.size }),
        ({ q, received }) => received === FLOOD && Number(q?.ready ?? 0n) === 0 && Number(q?.inProgress ?? 0n) === 0,
      );
    } finally {
      await other.stop();
    }
  });
});
