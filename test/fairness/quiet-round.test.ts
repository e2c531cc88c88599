// While another key's flood holds a stream's slots, the fair claims leave
// free as many of them as quiet keys' tasks were handed to it over its last
// round (while its worker freed as many slots as it has), not only its quiet
// share (dispatch/dispatcher.ts's quietSlots): a worker that frees its slots
// a round at a time left a quiet key's burst larger than the share owed the
// next round's slots, round after round (in the fairness bench's flood,
// 10-30 of the small key's 100 tasks waited 20-80 ms each). A round with no
// quiet task gives the flood its slots back. Real server, PostgreSQL, gRPC
// and stream; the worker frees slots only when the test grants credits.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { DispatchResponse } from "@baton/protocol";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { registerTenantFlow } from "./lib/tenant-flow.js";
import { queueDepth } from "./lib/queue-depth.js";

const FLOOD = 300;
/** The stream's slots: it keeps 64 / 32 = 2 of them for quiet keys while keyed tasks are queued. */
const CREDITS = 64;
const QUIET_SHARE = 2;
/** A quiet key's burst, larger than the share. */
const BURST = 6;

let h: Harness;

before(async () => {
  h = await startHarness();
});
after(() => h.close());

const depth = (type: string) => queueDepth(h.client, type);
const ready = async (type: string) => Number((await depth(type))?.ready ?? 0n);
const taskOf = async (runId: string) => (await h.client.getWorkflow(runId, { includeTasks: true })).tasks[0]!;

describe("a quiet key's burst while another key's flood holds a stream's slots", () => {
  it("finds as many slots free the next round, and the flood gets them back after a round without", async () => {
    const type = "quiet_round";
    await registerTenantFlow(h.client, type, ["n"]);
    for (let n = 0; n < FLOOD; n += 20) {
      await Promise.all(Array.from({ length: 20 }, (_, i) => h.client.startWorkflow(type, { tenant: "flood", n: n + i })));
    }
    const stream = h.client.tasks.dispatch();
    stream.on("error", () => {});
    const received: { tenant: string; n: number }[] = [];
    stream.on("data", (message: DispatchResponse) => {
      if (message.task) received.push(JSON.parse(message.task.inputJson) as { tenant: string; n: number });
    });
    const quiet = () => received.filter((t) => t.tenant === "quiet").map((t) => t.n);
    let queued = FLOOD;
    /** The worker frees `n` slots: it then has received `owed` tasks owed it and the flood's claim of `claimed`, and no more. */
    const grant = async (n: number, owed: number, claimed: number, message: string) => {
      const expected = received.length + owed + claimed;
      queued -= claimed;
      if (n > 0) stream.write({ kind: { case: "credits", value: n } });
      else stream.write({ kind: { case: "subscribe", value: { taskTypes: [type], workerId: `worker-${type}`, domain: "" } } });
      if (n === 0) stream.write({ kind: { case: "credits", value: CREDITS } });
      await eventually(
        async () => received.length,
        (got) => got >= expected,
      );
      assert.equal(await ready(type), queued, message);
      assert.equal(received.length, expected, message);
    };
    /** A quiet key's burst of tasks `from`..: each handed over at commit. */
    const burst = async (from: number) => {
      for (let n = from; n < from + BURST; n++) assert.equal((await taskOf(await h.client.startWorkflow(type, { tenant: "quiet", n }))).status, "IN_PROGRESS");
    };
    try {
      await grant(0, 0, CREDITS - QUIET_SHARE, "the flood's first claim leaves the quiet share free");
      // The first burst: the share's slots, and the rest owed the next round's.
      await burst(0);
      await eventually(
        async () => quiet().length,
        (got) => got >= QUIET_SHARE,
      );
      assert.deepEqual(quiet(), [0, 1]);
      // The worker frees its round: the owed tasks go first, and the flood's claim leaves the burst's worth free.
      await grant(CREDITS, BURST - QUIET_SHARE, CREDITS - (BURST - QUIET_SHARE) - BURST, "the claim leaves the last round's quiet tasks' worth free");
      assert.deepEqual(quiet(), [0, 1, 2, 3, 4, 5]);
      // The next burst: every task of it goes out at once, none owed a slot.
      await burst(BURST);
      await eventually(
        async () => quiet().length,
        (got) => got >= 2 * BURST,
      );
      assert.deepEqual(quiet(), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
      // The worker frees every slot: this round had the second burst, so the claim leaves its worth free again…
      await grant(CREDITS, 0, CREDITS - BURST, "the round of the second burst");
      // …and after a round without a quiet task, the flood has all but the share again.
      await grant(CREDITS - BURST, 0, CREDITS - QUIET_SHARE, "a round with no quiet task");
    } finally {
      stream.cancel();
    }
  });
});
