// Per-key limits of running runs when things change around a waiting run,
// on a real server and PostgreSQL with the controllable clock: a raised
// limit (a new version of the workflow) admits runs already waiting at once,
// not at the key's next start or end; every key takes a new limit when it is
// registered, one with no run waiting too; a removed limit admits them all; a
// waiting run that was paused, once admitted, stays paused with no task until
// it is resumed, and then starts. A run retried or restarted after it ended,
// or brought back by its sub-workflow's revival, takes a slot like a start,
// or waits for one (paused meanwhile, it stays paused when admitted).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ConductorWorkflow } from "@baton/client";
import pg from "pg";
import { startHarness, type Harness } from "../support/harness.js";
import { answer, input, pollAll } from "../support/worker.js";
import { flowOf } from "../support/flows.js";

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
/** Polls what there is of `type`, checks the first task is run n's (its input n), answers it with `status` and settles. */
async function answerNext(type: string, n: number, status: "COMPLETED" | "FAILED", message?: string) {
  const [task] = await pollAll(h, type);
  assert.equal(task && input(task)["n"], n, message);
  await answer(h, task!, status);
  await h.settle();
}
/** How many of the run's tasks are open (scheduled or in progress). */
const open = async (id: string) => (await run(id)).tasks.filter((t) => t.status === "SCHEDULED" || t.status === "IN_PROGRESS").length;
const counts = async (workflow: string) =>
  (await db.query("SELECT key, running, max_running FROM baton.concurrency_keys WHERE workflow = $1 ORDER BY key", [workflow])).rows;

before(async () => {
  h = await startHarness({ manualClock: true });
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
  await h.client.registerTaskDefs(
    ["chg_raise", "chg_pause", "chg_revive", "chg_paused_retry", "chg_child"].map((name) => ({ name, retryCount: 0, responseTimeoutSeconds: 3600 })),
  );
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
    assert.deepEqual(
      await counts("chg_raise"),
      [
        { key: "acme", running: 3, max_running: 3 },
        { key: "globex", running: 1, max_running: 3 },
      ],
      "globex, with no run waiting, takes the new limit too",
    );
    assert.deepEqual((await pollAll(h, "chg_raise")).map((t) => input(t)["n"]).sort(), [0, 1, 2, 9]);

    // A lower limit admits nothing and takes nothing away; the key drains to it.
    await h.client.registerWorkflowDef(limited(2));
    assert.deepEqual(await states(ids), ["STARTED", "STARTED", "STARTED", "QUEUED", "QUEUED"]);
    assert.deepEqual(await counts("chg_raise"), [
      { key: "acme", running: 3, max_running: 2 },
      { key: "globex", running: 1, max_running: 2 },
    ]);

    // No limit at all: every waiting run starts.
    await h.client.registerWorkflowDef(limited(undefined));
    assert.deepEqual(await states(ids), ["STARTED", "STARTED", "STARTED", "STARTED", "STARTED"]);
    assert.deepEqual(await states([other]), ["STARTED"]);
    const rest = await pollAll(h, "chg_raise");
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
    const [first] = await pollAll(h, "chg_pause");
    assert.equal(input(first!)["n"], 1);
    await answer(h, first!, "COMPLETED");
    await h.settle();
    await h.advance(1_000);
    assert.deepEqual(await states([holder, waiter]), ["COMPLETED", "PAUSED"]);
    assert.equal((await run(waiter)).reasonForIncompletion ?? "", "", "admitted: no longer queued");
    assert.deepEqual(await counts("chg_pause"), [{ key: "acme", running: 1, max_running: 1 }], "it holds the slot while paused");
    assert.deepEqual(await pollAll(h, "chg_pause"), [], "nothing to poll while paused");

    // Another start of the key waits behind it.
    const third = await h.client.startWorkflow("chg_pause", { customerId: "acme", n: 3 });
    assert.deepEqual(await states([third]), ["QUEUED"]);

    await h.client.resumeWorkflow(waiter);
    await h.settle();
    assert.deepEqual(await states([waiter]), ["STARTED"]);
    const [second] = await pollAll(h, "chg_pause");
    assert.equal(input(second!)["n"], 2);
    await answer(h, second!, "COMPLETED");
    await h.settle();
    assert.deepEqual(await states([waiter, third]), ["COMPLETED", "STARTED"]);
    for (const t of await pollAll(h, "chg_pause")) await answer(h, t, "COMPLETED");
    await h.settle();
    assert.deepEqual(await counts("chg_pause"), [{ key: "acme", running: 0, max_running: 1 }]);
  });

  it("a retried or restarted run takes a slot like a start, or waits for one with nothing scheduled", async () => {
    await h.client.registerWorkflowDef(flow("chg_revive", "chg_revive", { rateLimitKey: "${workflow.input.customerId}", concurrentExecLimit: 1 }));
    const a = await h.client.startWorkflow("chg_revive", { customerId: "acme", n: 1 });
    const [ta] = await pollAll(h, "chg_revive");
    await answer(h, ta!, "FAILED");
    await h.settle();
    assert.equal((await run(a)).status, "FAILED");

    // Retried with the key's slot free: it holds the slot, and a start of the key waits behind it.
    await h.client.retryWorkflow(a);
    const b = await h.client.startWorkflow("chg_revive", { customerId: "acme", n: 2 });
    assert.equal((await run(a)).status, "RUNNING");
    assert.deepEqual(await states([b]), ["QUEUED"], "the retried run holds the key's one slot");
    assert.deepEqual(await counts("chg_revive"), [{ key: "acme", running: 1, max_running: 1 }]);
    await answerNext("chg_revive", 1, "COMPLETED");
    assert.equal((await run(a)).status, "COMPLETED");
    assert.deepEqual(await states([b]), ["STARTED"], "its end admitted the waiting start");

    // Restarted while b holds the slot: it waits, RUNNING with nothing scheduled, and says why.
    await h.client.restartWorkflow(a);
    let waiting = await run(a);
    assert.equal(waiting.status, "RUNNING");
    assert.match(waiting.reasonForIncompletion ?? "", /queued: 1 runs of chg_revive with key "acme" are running \(limit 1\); this run runs again/);
    assert.equal(await open(a), 0);
    await answerNext("chg_revive", 2, "FAILED", "only b's task is there to poll");
    // b's end admits the restart: a starts over.
    waiting = await run(a);
    assert.equal(waiting.status, "RUNNING");
    assert.equal(waiting.reasonForIncompletion ?? "", "");
    assert.equal(await open(a), 1);

    // Retrying b now waits in turn, and runs once a has ended.
    await h.client.retryWorkflow(b);
    assert.match((await run(b)).reasonForIncompletion ?? "", /queued: /);
    assert.equal(await open(b), 0);
    await answerNext("chg_revive", 1, "COMPLETED");
    assert.equal((await run(a)).status, "COMPLETED");
    assert.equal(await open(b), 1);
    await answerNext("chg_revive", 2, "COMPLETED");
    assert.equal((await run(b)).status, "COMPLETED");
    assert.deepEqual(await counts("chg_revive"), [{ key: "acme", running: 0, max_running: 1 }]);
  });

  it("a waiting retry that was paused stays paused when admitted, holding its slot, and runs again when resumed", async () => {
    await h.client.registerWorkflowDef(flow("chg_paused_retry", "chg_paused_retry", { rateLimitKey: "${workflow.input.customerId}", concurrentExecLimit: 1 }));
    const a = await h.client.startWorkflow("chg_paused_retry", { customerId: "acme", n: 1 });
    await answer(h, (await pollAll(h, "chg_paused_retry"))[0]!, "FAILED");
    await h.settle();
    const b = await h.client.startWorkflow("chg_paused_retry", { customerId: "acme", n: 2 });
    await h.client.retryWorkflow(a);
    assert.deepEqual(await states([b]), ["STARTED"]);
    assert.match((await run(a)).reasonForIncompletion ?? "", /queued: /, "the retry waits behind b");
    await h.client.pauseWorkflow(a);
    assert.equal((await run(a)).status, "PAUSED");

    // b ends: a takes the slot but stays paused, with nothing scheduled.
    await answerNext("chg_paused_retry", 2, "COMPLETED");
    await h.advance(1_000);
    const paused = await run(a);
    assert.equal(paused.status, "PAUSED", "admitted while paused: still paused");
    assert.equal(paused.reasonForIncompletion ?? "", "", "admitted: no longer queued");
    assert.equal(await open(a), 0);
    assert.deepEqual(await pollAll(h, "chg_paused_retry"), [], "nothing to poll while paused");
    assert.deepEqual(await counts("chg_paused_retry"), [{ key: "acme", running: 1, max_running: 1 }], "it holds the slot while paused");
    const c = await h.client.startWorkflow("chg_paused_retry", { customerId: "acme", n: 3 });
    assert.deepEqual(await states([c]), ["QUEUED"]);

    // Resumed: the retry is applied now.
    await h.client.resumeWorkflow(a);
    await h.settle();
    assert.equal((await run(a)).status, "RUNNING");
    assert.equal(await open(a), 1);
    await answerNext("chg_paused_retry", 1, "COMPLETED");
    assert.equal((await run(a)).status, "COMPLETED");
    assert.deepEqual(await states([c]), ["STARTED"], "a's end admitted c");
    for (const t of await pollAll(h, "chg_paused_retry")) await answer(h, t, "COMPLETED");
    await h.settle();
    assert.deepEqual(await counts("chg_paused_retry"), [{ key: "acme", running: 0, max_running: 1 }]);
  });

  it("a run brought back by its sub-workflow's revival takes a slot, or waits for one while its child runs", async () => {
    await h.client.registerWorkflowDef(
      flowOf("chg_child", [{ name: "chg_child", taskReferenceName: "work", type: "SIMPLE", inputParameters: { n: "${workflow.input.n}" } }]),
    );
    await h.client.registerWorkflowDef({
      name: "chg_parent",
      version: 1,
      schemaVersion: 2,
      rateLimitConfig: { rateLimitKey: "${workflow.input.customerId}", concurrentExecLimit: 1 },
      tasks: [
        {
          name: "child",
          taskReferenceName: "child",
          type: "SUB_WORKFLOW",
          subWorkflowParam: { name: "chg_child", version: 1 },
          inputParameters: { n: "${workflow.input.n}" },
        },
      ],
    });
    const childOf = async (id: string) => (await run(id)).tasks.find((t) => t.referenceTaskName === "child")!.subWorkflowId!;
    const p1 = await h.client.startWorkflow("chg_parent", { customerId: "acme", n: 1 });
    await h.settle();
    const c1 = await childOf(p1);
    await answer(h, (await pollAll(h, "chg_child"))[0]!, "FAILED");
    await h.settle();
    assert.deepEqual(await states([c1, p1]), ["FAILED", "FAILED"]);
    assert.deepEqual(await counts("chg_parent"), [{ key: "acme", running: 0, max_running: 1 }]);

    // The child retried with the key's slot free: the parent runs again and holds the slot; a start waits behind it.
    await h.client.retryWorkflow(c1);
    await h.settle();
    assert.equal((await run(p1)).status, "RUNNING");
    assert.equal((await run(p1)).reasonForIncompletion ?? "", "");
    assert.deepEqual(await counts("chg_parent"), [{ key: "acme", running: 1, max_running: 1 }], "the revived parent holds the slot");
    const p2 = await h.client.startWorkflow("chg_parent", { customerId: "acme", n: 2 });
    await h.settle();
    assert.deepEqual(await states([p2]), ["QUEUED"]);
    await answer(h, (await pollAll(h, "chg_child"))[0]!, "COMPLETED");
    await h.settle();
    assert.deepEqual(await states([c1, p1, p2]), ["COMPLETED", "COMPLETED", "STARTED"], "p1's end admitted p2");

    // The child restarted while p2 holds the slot: p1 waits with nothing reopened; its child runs, and its end is kept.
    await h.client.restartWorkflow(c1);
    await h.settle();
    const waiting = await run(p1);
    assert.equal(waiting.status, "RUNNING");
    assert.match(waiting.reasonForIncompletion ?? "", /queued: 1 runs of chg_parent with key "acme" are running \(limit 1\); this run runs again/);
    assert.equal(await open(p1), 0);
    const childTasks = await pollAll(h, "chg_child");
    assert.deepEqual(childTasks.map((t) => input(t)["n"]).sort(), [1, 2], "c1 runs again at once, beside p2's child");
    await answer(
      h,
      childTasks.find((t) => input(t)["n"] === 1)!,
      "COMPLETED",
    );
    await h.settle();
    assert.equal((await run(c1)).status, "COMPLETED");
    assert.equal((await run(p1)).status, "RUNNING", "p1 still waits for its slot");
    assert.match((await run(p1)).reasonForIncompletion ?? "", /queued: /);

    // p2 ends: p1 is admitted, takes its child's revival and then its end, and completes.
    await answer(
      h,
      childTasks.find((t) => input(t)["n"] === 2)!,
      "COMPLETED",
    );
    await h.settle();
    await h.settle();
    assert.deepEqual(await states([p2, p1]), ["COMPLETED", "COMPLETED"]);
    assert.deepEqual(await counts("chg_parent"), [{ key: "acme", running: 0, max_running: 1 }]);
  });
});
