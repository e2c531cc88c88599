// What the list of connected workers may hold (issue 14). It is answered whole
// by ListWorkers and written into the replica's heartbeat every 2 s. Poll's
// task_type had no length limit (a worker key could have a 5 MiB name kept
// and listed), a long poller under a new worker id stayed until someone
// listed the workers, and nothing bounded how many were listed: a worker key
// polling under fresh ids grew it by every poll, and streams of 100 task
// types of 512 characters each made a list megabytes long.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ConnectedWorkers, LIST_NAME_CHARS, MAX_POLLERS, POLL_GONE_MS } from "../../server/src/dispatch/workers.js";
import { startHarness, type Harness } from "../support/harness.js";

describe("the list of connected workers", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ manualClock: false });
  });
  after(() => h.close());

  it("refuses a Poll whose task_type is over 512 characters, and does not list it", async () => {
    await assert.rejects(
      h.client.tasks.poll({ taskType: "t".repeat(4000), workerId: "long-type", count: 1, waitMs: 0n }),
      /task_type is longer than the 512 characters a task name may have/,
    );
    const { workers } = await h.client.tasks.listWorkers({ taskType: "" });
    assert.deepEqual(
      workers.filter((w) => w.workerId === "long-type"),
      [],
    );
  });

  it("keeps at most MAX_POLLERS long pollers, forgetting those seen longest ago and those gone, without being listed", () => {
    let now = 0;
    const workers = new ConnectedWorkers(() => now);
    for (let i = 0; i < MAX_POLLERS + 5; i++) {
      workers.polled(`w${i}`, "t", 1);
      workers.polled(`w${i}`, "t", 0);
    }
    assert.equal(workers.pollerCount, MAX_POLLERS);
    const listed = workers.list().map((w) => w.workerId);
    assert.equal(listed.length, MAX_POLLERS);
    assert.equal(listed[0], `w${MAX_POLLERS + 4}`, "the most recently seen first");
    assert.ok(!listed.includes("w4") && listed.includes("w5"), "the five seen longest ago are forgotten");
    now += POLL_GONE_MS + 1;
    workers.polled("fresh", "t", 1);
    assert.equal(workers.pollerCount, 1, "the gone pollers are forgotten as a new one polls");
  });

  it("lists workers until their names pass LIST_NAME_CHARS", () => {
    const workers = new ConnectedWorkers(() => 0);
    const types = (i: number) => Array.from({ length: 100 }, (_, t) => `${i}-${t}-`.padEnd(512, "x"));
    for (let i = 0; i < 40; i++) workers.stream(`s${i}`, types(i));
    const listed = workers.list();
    const chars = listed.reduce((n, w) => n + w.workerId.length + w.taskTypes.reduce((m, t) => m + t.length, 0), 0);
    assert.ok(listed.length < 40 && chars < LIST_NAME_CHARS + 100 * 512 + 10, `${listed.length} streams listed, ${chars} characters`);
    assert.ok(listed.length >= 20);
  });
});
