// Per-key limits of running runs when things change around a waiting run,
// on a real server and PostgreSQL with the controllable clock: a raised
// limit (a new version of the workflow) admits runs already waiting at once,
// not at the key's next start or end; a removed limit admits them all; a
// waiting run that was paused, once admitted, stays paused with no task until
// it is resumed, and then starts. A run retried or restarted after it ended
// takes a slot like a start, or waits for one.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ConductorWorkflow } from "@baton/client";
import pg from "pg";
import { startHarness, type Harness } from "../support/harness.js";
import { answer, input, poll } from "../support/worker.js";

let h: Harness;
let db: pg.Client;

const flow = (name: string, type: string, rateLimitConfig: object | undefined) => ({
  name,
  version: 1,
  schemaVersion: 2,
  ...(rateLimitConfig ? { rateLimitConfig } : {}),
  tasks: [{ name: type, taskReferenceName: "work", type: "SIMPLE", inputParameters: { n: "${workflow.input.n}" } }],
});

const run = (id: string): Promise<ConductorWorkflow> => h.client.getWorkflow(id, { includeTasks: true });
/** Each run as STARTED (it has a task), QUEUED (RUNNING with none) or its status. */
async function states(ids: string[]) {
  const runs = await Promise.all(ids.map(run));
  return runs.map((r) =>
    r.status === "PAUSED" ? `PAUSED${r.tasks.length > 0 ? "+task" : ""}` : r.status !== "RUNNING" ? r.status : r.tasks.length > 0 ? "STARTED" : "QUEUED",
  );
}
/** Every task of `type` there is to poll now. */
async function pollAll(type: string) {
  const got = [];
  for (;;) {
    const task = await poll(h, type, 200);
    if (!task) return got;
    got.push(task);
  }
}
const counts = async (workflow: string) =>
  (await db.query("SELECT key, running, max_running FROM baton.concurrency_keys WHERE workflow = $1 ORDER BY key", [workflow])).rows;

before(async () => {
  h = await startHarness({ manualClock: true });
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
  await h.client.registerTaskDefs(["chg_raise", "chg_pause", "chg_revive"].map((name) => ({ name, retryCount: 0, responseTimeoutSeconds: 3600 })));
});
after(async () => {
  await db.end();
  await h.close();
});

describe("a per-key limit that changes while runs wait", () => {
  it("a raised limit admits waiting runs when it is registered, in start order; a removed limit admits the rest", async () => {
    const limited = (limit: number | undefined) =>
      flow("chg_raise", "chg_raise", limit === undefined ? undefined : { rateLimitKey: "${workflow.input.customerId}", concurrentExecLimit: limit });
    await h.client.registerWorkflowDef(limited(1));
    const ids = [];
    for (let n = 0; n < 5; n++) ids.push(await h.client.startWorkflow("chg_raise", { customerId: "acme", n }));
    const other = await h.client.startWorkflow("chg_raise", { customerId: "globex", n: 9 });
    assert.deepEqual(await states(ids), ["STARTED", "QUEUED", "QUEUED", "QUEUED", "QUEUED"]);

    // The same version updated in place with a higher limit: no run ended, no start came.
    await h.client.registerWorkflowDef(limited(3));
    assert.deepEqual(await states(ids), ["STARTED", "STARTED", "STARTED", "QUEUED", "QUEUED"], "the two oldest waiting runs start at once");
    assert.equal((await run(ids[1]!)).reasonForIncompletion ?? "", "");
    assert.deepEqual(await counts("chg_raise"), [
      { key: "acme", running: 3, max_running: 3 },
      { key: "globex", running: 1, max_running: 1 },
    ]);
    assert.deepEqual((await pollAll("chg_raise")).map((t) => input(t)["n"]).sort(), [0, 1, 2, 9]);

    // A lower limit admits nothing and takes nothing away; the key drains to it.
    await h.client.registerWorkflowDef(limited(2));
    assert.deepEqual(await states(ids), ["STARTED", "STARTED", "STARTED", "QUEUED", "QUEUED"]);

    // No limit at all: every waiting run starts.
    await h.client.registerWorkflowDef(limited(undefined));
    assert.deepEqual(await states(ids), ["STARTED", "STARTED", "STARTED", "STARTED", "STARTED"]);
    assert.deepEqual(await states([other]), ["STARTED"]);
    const rest = await pollAll("chg_raise");
    assert.deepEqual(rest.map((t) => input(t)["n"]).sort(), [3, 4]);
    for (const t of rest) await answer(h, t, "COMPLETED");
    await h.settle();
    assert.deepEqual(await states(ids.slice(3)), ["COMPLETED", "COMPLETED"]);
  });

  it("a waiting run that was paused stays paused with no task when admitted, and starts when resumed", async () => {
    await h.client.registerWorkflowDef(flow("chg_pause", "chg_pause", { rateLimitKey: "${workflow.input.customerId}", concurrentExecLimit: 1 }));
    const holder = await h.client.startWorkflow("chg_pause", { customerId: "acme", n: 1 });
    const waiter = await h.client.startWorkflow("chg_pause", { customerId: "acme", n: 2 });
    await h.client.pauseWorkflow(waiter);
    assert.deepEqual(await states([holder, waiter]), ["STARTED", "PAUSED"]);

    // The holder ends: the paused waiter takes the slot but schedules nothing.
    const [first] = await pollAll("chg_pause");
    assert.equal(input(first!)["n"], 1);
    await answer(h, first!, "COMPLETED");
    await h.settle();
    await h.advance(1_000);
    assert.deepEqual(await states([holder, waiter]), ["COMPLETED", "PAUSED"]);
    assert.equal((await run(waiter)).reasonForIncompletion ?? "", "", "admitted: no longer queued");
    assert.deepEqual(await counts("chg_pause"), [{ key: "acme", running: 1, max_running: 1 }], "it holds the slot while paused");
    assert.deepEqual(await pollAll("chg_pause"), [], "nothing to poll while paused");

    // Another start of the key waits behind it.
    const third = await h.client.startWorkflow("chg_pause", { customerId: "acme", n: 3 });
    assert.deepEqual(await states([third]), ["QUEUED"]);

    await h.client.resumeWorkflow(waiter);
    await h.settle();
    assert.deepEqual(await states([waiter]), ["STARTED"]);
    const [second] = await pollAll("chg_pause");
    assert.equal(input(second!)["n"], 2);
    await answer(h, second!, "COMPLETED");
    await h.settle();
    assert.deepEqual(await states([waiter, third]), ["COMPLETED", "STARTED"]);
    for (const t of await pollAll("chg_pause")) await answer(h, t, "COMPLETED");
    await h.settle();
    assert.deepEqual(await counts("chg_pause"), [{ key: "acme", running: 0, max_running: 1 }]);
  });

  it("a retried or restarted run takes a slot like a start, or waits for one with nothing scheduled", async () => {
    await h.client.registerWorkflowDef(flow("chg_revive", "chg_revive", { rateLimitKey: "${workflow.input.customerId}", concurrentExecLimit: 1 }));
    const open = async (id: string) => (await run(id)).tasks.filter((t) => t.status === "SCHEDULED" || t.status === "IN_PROGRESS").length;
    const a = await h.client.startWorkflow("chg_revive", { customerId: "acme", n: 1 });
    const [ta] = await pollAll("chg_revive");
    await answer(h, ta!, "FAILED");
    await h.settle();
    assert.equal((await run(a)).status, "FAILED");

    // Retried with the key's slot free: it holds the slot, and a start of the key waits behind it.
    await h.client.retryWorkflow(a);
    const b = await h.client.startWorkflow("chg_revive", { customerId: "acme", n: 2 });
    assert.equal((await run(a)).status, "RUNNING");
    assert.deepEqual(await states([b]), ["QUEUED"], "the retried run holds the key's one slot");
    assert.deepEqual(await counts("chg_revive"), [{ key: "acme", running: 1, max_running: 1 }]);
    const [ta2] = await pollAll("chg_revive");
    assert.equal(input(ta2!)["n"], 1);
    await answer(h, ta2!, "COMPLETED");
    await h.settle();
    assert.equal((await run(a)).status, "COMPLETED");
    assert.deepEqual(await states([b]), ["STARTED"], "its end admitted the waiting start");

    // Restarted while b holds the slot: it waits, RUNNING with nothing scheduled, and says why.
    await h.client.restartWorkflow(a);
    let waiting = await run(a);
    assert.equal(waiting.status, "RUNNING");
    assert.match(waiting.reasonForIncompletion ?? "", /queued: 1 runs of chg_revive with key "acme" are running \(limit 1\); this run runs again/);
    assert.equal(await open(a), 0);
    const [tb] = await pollAll("chg_revive");
    assert.equal(input(tb!)["n"], 2, "only b's task is there to poll");
    await answer(h, tb!, "FAILED");
    await h.settle();
    // b's end admits the restart: a starts over.
    waiting = await run(a);
    assert.equal(waiting.status, "RUNNING");
    assert.equal(waiting.reasonForIncompletion ?? "", "");
    assert.equal(await open(a), 1);

    // Retrying b now waits in turn, and runs once a has ended.
    await h.client.retryWorkflow(b);
    assert.match((await run(b)).reasonForIncompletion ?? "", /queued: /);
    assert.equal(await open(b), 0);
    const [ta3] = await pollAll("chg_revive");
    assert.equal(input(ta3!)["n"], 1);
    await answer(h, ta3!, "COMPLETED");
    await h.settle();
    assert.equal((await run(a)).status, "COMPLETED");
    assert.equal(await open(b), 1);
    const [tb2] = await pollAll("chg_revive");
    assert.equal(input(tb2!)["n"], 2);
    await answer(h, tb2!, "COMPLETED");
    await h.settle();
    assert.equal((await run(b)).status, "COMPLETED");
    assert.deepEqual(await counts("chg_revive"), [{ key: "acme", running: 0, max_running: 1 }]);
  });
});
