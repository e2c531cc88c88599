// Per-key limits of running runs (rateLimitConfig {rateLimitKey,
// concurrentExecLimit, strategy}) on a real server and PostgreSQL, time on
// the controllable clock: QUEUE holds runs over the limit (RUNNING, no task,
// the reason says why) and starts them in start order as slots free;
// CANCEL_NEWEST ends the new run TERMINATED; CANCEL_OLDEST terminates the
// key's oldest running run. Two servers on one database keep the count
// exact. Bad settings are refused naming the field, nothing stored.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { ConductorWorkflow } from "@baton/client";
import { grpc } from "@baton/protocol";
import pg from "pg";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { answer, input, pollAll } from "../support/worker.js";
import { flowOf } from "../support/flows.js";

let h: Harness;
let db: pg.Client;

const flow = (name: string, type: string, rateLimitConfig: object) => ({
  ...flowOf(name, [
    { name: type, taskReferenceName: "work", type: "SIMPLE", inputParameters: { customer: "${workflow.input.customerId}", n: "${workflow.input.n}" } },
  ]),
  rateLimitConfig,
});

const run = (id: string): Promise<ConductorWorkflow> => h.client.getWorkflow(id, { includeTasks: true });
/** Runs of `ids` that have a task (admitted), and those waiting (RUNNING with none). */
async function states(ids: string[]) {
  const runs = await Promise.all(ids.map(run));
  return runs.map((r) => (r.status !== "RUNNING" ? r.status : r.tasks.length > 0 ? "STARTED" : "QUEUED"));
}

before(async () => {
  h = await startHarness();
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
  await h.client.registerTaskDefs(["lim_q", "lim_new", "lim_old", "lim_two"].map((name) => ({ name, retryCount: 0, responseTimeoutSeconds: 3600 })));
});
after(async () => {
  await db.end();
  await h.close();
});

describe("running runs per concurrency key", () => {
  it("QUEUE: runs over the limit wait, RUNNING with no task, and start in start order as slots free", async () => {
    await h.client.registerWorkflowDef(flow("lim_queue", "lim_q", { rateLimitKey: "${workflow.input.customerId}", concurrentExecLimit: 2 }));
    const a: string[] = [];
    for (let n = 0; n < 5; n++) a.push(await h.client.startWorkflow("lim_queue", { customerId: "acme", n }));
    const other = await h.client.startWorkflow("lim_queue", { customerId: "globex", n: 99 });
    assert.deepEqual(await states(a), ["STARTED", "STARTED", "QUEUED", "QUEUED", "QUEUED"]);
    assert.deepEqual(await states([other]), ["STARTED"], "another key has slots of its own");
    assert.match((await run(a[2]!)).reasonForIncompletion ?? "", /queued: 2 runs of lim_queue with key "acme" are running \(limit 2\)/);

    // A waiting run can be terminated; it never held a slot.
    await h.client.terminateWorkflow(a[3]!, "not needed");
    const first = await pollAll(h, "lim_q", 3);
    assert.deepEqual(first.map((t) => input(t)["n"]).sort(), [0, 1, 99]);
    // The first run ends: the oldest waiting run of its key (n=2) starts; n=4 still waits.
    await answer(
      h,
      first.find((t) => input(t)["n"] === 0)!,
      "COMPLETED",
    );
    await h.settle();
    await eventually(
      () => states(a),
      (s) => s[2] === "STARTED",
    );
    assert.deepEqual(await states(a), ["COMPLETED", "STARTED", "STARTED", "TERMINATED", "QUEUED"]);
    assert.equal((await run(a[2]!)).reasonForIncompletion ?? "", "", "the admitted run's reason is cleared");
    // A failed run frees its slot too.
    await answer(
      h,
      first.find((t) => input(t)["n"] === 1)!,
      "FAILED",
    );
    await h.settle();
    await eventually(
      () => states(a),
      (s) => s[4] === "STARTED",
    );
    for (const t of await pollAll(h, "lim_q", 2)) await answer(h, t, "COMPLETED");
    await h.settle();
    await eventually(
      () => states(a),
      (s) => s[4] === "COMPLETED",
    );
    const { rows } = await db.query("SELECT key, running FROM baton.concurrency_keys WHERE workflow = 'lim_queue' ORDER BY key");
    assert.deepEqual(rows, [
      { key: "acme", running: 0 },
      { key: "globex", running: 1 },
    ]);
  });

  it("QUEUE: a waiting run's workflow timeout still applies, and frees nothing it did not hold", async () => {
    const def = {
      ...flow("lim_queue_to", "lim_q", { rateLimitKey: "${workflow.correlationId}", concurrentExecLimit: 1 }),
      timeoutSeconds: 60,
      timeoutPolicy: "TIME_OUT_WF",
    };
    await h.client.registerWorkflowDef(def);
    const holder = await h.client.startWorkflow("lim_queue_to", { n: 1 }, { correlationId: "c1" });
    const waiter = await h.client.startWorkflow("lim_queue_to", { n: 2 }, { correlationId: "c1" });
    assert.deepEqual(await states([holder, waiter]), ["STARTED", "QUEUED"]);
    await h.advance(61_000);
    assert.deepEqual(await states([holder, waiter]), ["TIMED_OUT", "TIMED_OUT"]);
    const { rows } = await db.query("SELECT running FROM baton.concurrency_keys WHERE workflow = 'lim_queue_to'");
    assert.deepEqual(rows, [{ running: 0 }]);
    await pollAll(h, "lim_q");
  });

  it("CANCEL_NEWEST: a start over the limit ends TERMINATED at once, with the reason", async () => {
    await h.client.registerWorkflowDef(
      flow("lim_newest", "lim_new", { rateLimitKey: "${workflow.input.customerId}", concurrentExecLimit: 1, strategy: "CANCEL_NEWEST" }),
    );
    const first = await h.client.startWorkflow("lim_newest", { customerId: "acme", n: 1 });
    const second = await h.client.startWorkflow("lim_newest", { customerId: "acme", n: 2 });
    assert.deepEqual(await states([first, second]), ["STARTED", "TERMINATED"]);
    assert.match(
      (await run(second)).reasonForIncompletion ?? "",
      /refused: 1 runs of lim_newest with key "acme" are running \(limit 1\) \(strategy CANCEL_NEWEST\)/,
    );
    const task = (await pollAll(h, "lim_new", 1))[0]!;
    await answer(h, task, "COMPLETED");
    await h.settle();
    const third = await h.client.startWorkflow("lim_newest", { customerId: "acme", n: 3 });
    assert.deepEqual(await states([third]), ["STARTED"], "the slot is free again once the first ended");
    await pollAll(h, "lim_new");
  });

  it("CANCEL_OLDEST: a start over the limit terminates the key's oldest running run", async () => {
    await h.client.registerWorkflowDef(
      flow("lim_oldest", "lim_old", { rateLimitKey: "${workflow.input.customerId}", concurrentExecLimit: 2, strategy: "CANCEL_OLDEST" }),
    );
    const ids: string[] = [];
    for (let n = 0; n < 3; n++) ids.push(await h.client.startWorkflow("lim_oldest", { customerId: "acme", n }));
    await h.settle();
    await eventually(
      () => states(ids),
      (s) => s[0] === "TERMINATED",
    );
    assert.deepEqual(await states(ids), ["TERMINATED", "STARTED", "STARTED"]);
    assert.match(
      (await run(ids[0]!)).reasonForIncompletion ?? "",
      /cancelled: 2 runs of lim_oldest with key "acme" are running \(limit 2\) and run .* started after it \(strategy CANCEL_OLDEST\)/,
    );
    const { rows } = await db.query("SELECT running FROM baton.concurrency_keys WHERE workflow = 'lim_oldest'");
    assert.deepEqual(rows, [{ running: 2 }]);
    await pollAll(h, "lim_old");
  });

  it("refuses a key that does not parse, a limit below 1 and an unknown strategy, naming the field; nothing stored", async () => {
    const bad: [object, RegExp][] = [
      [{ rateLimitKey: "${customerId}", concurrentExecLimit: 1 }, /\/rateLimitConfig\/rateLimitKey/],
      [{ rateLimitKey: "${workflow.input}", concurrentExecLimit: 1 }, /\/rateLimitConfig\/rateLimitKey/],
      [{ rateLimitKey: "k", concurrentExecLimit: 0 }, /\/rateLimitConfig\/concurrentExecLimit/],
      [{ rateLimitKey: "k", concurrentExecLimit: -3 }, /\/rateLimitConfig\/concurrentExecLimit/],
      [{ rateLimitKey: "k", concurrentExecLimit: 1, strategy: "DROP" }, /\/rateLimitConfig\/strategy/],
    ];
    for (const [config, field] of bad) {
      const refused = await h.client.registerWorkflowDef(flow("lim_bad", "lim_q", config)).catch((e: { code: number; details: string }) => e);
      assert.equal((refused as { code: number }).code, grpc.status.INVALID_ARGUMENT, JSON.stringify(config));
      assert.match((refused as { details: string }).details, field);
    }
    const weights = await h.client
      .registerWorkflowDef({ ...flow("lim_bad", "lim_q", {}), fairnessKey: "${workflow.input.customerId}", fairnessWeights: { gold: 0 } })
      .catch((e: { details: string }) => e);
    assert.match((weights as { details: string }).details, /\/fairnessWeights\/gold/);
    const missing = await h.client.getWorkflowDef("lim_bad").catch((e: { code: number }) => e);
    assert.equal((missing as { code: number }).code, grpc.status.NOT_FOUND, "nothing stored");
  });
});

describe("two servers on one database", () => {
  it("never run more than the limit of one key at once, and start every queued run", async () => {
    const second = await startHarness({ databaseUrl: h.databaseUrl });
    try {
      await h.client.registerWorkflowDef(flow("lim_two", "lim_two", { rateLimitKey: "${workflow.input.customerId}", concurrentExecLimit: 3 }));
      const clients = [h.client, second.client];
      // 40 starts of one key, spread over both servers, concurrently.
      const ids = await Promise.all(Array.from({ length: 40 }, (_, n) => clients[n % 2]!.startWorkflow("lim_two", { customerId: "acme", n })));
      let maxHeld = 0;
      let done = 0;
      const harnesses = [h, second];
      for (let round = 0; done < 40 && round < 200; round++) {
        // Every task of the key a worker can hold now, through either server.
        const held = [];
        for (const hh of harnesses) {
          const { tasks } = await hh.client.tasks.poll({ taskType: "lim_two", workerId: "two", count: 10, waitMs: 50n });
          held.push(...tasks.map((t) => ({ hh, t })));
        }
        const { rows } = await db.query(
          "SELECT count(*)::int AS n FROM baton.tasks t JOIN baton.runs r ON r.id = t.run_id WHERE r.name = 'lim_two' AND t.status = 'IN_PROGRESS'",
        );
        maxHeld = Math.max(maxHeld, held.length, rows[0].n as number);
        // Finish them on alternating servers, all at once, so slots free on both.
        await Promise.all(held.map(({ t }, i) => answer(harnesses[i % 2]!, t, "COMPLETED")));
        done += held.length;
        await Promise.all(harnesses.map((hh) => hh.settle()));
      }
      assert.equal(done, 40, "every queued run got its turn");
      assert.ok(maxHeld <= 3, `at most 3 runs of the key ran at once (saw ${maxHeld})`);
      assert.ok(maxHeld === 3, "the limit was used");
      const runs = await Promise.all(ids.map(run));
      assert.ok(runs.every((r) => r.status === "COMPLETED"));
      const { rows } = await db.query("SELECT running FROM baton.concurrency_keys WHERE workflow = 'lim_two'");
      assert.deepEqual(rows, [{ running: 0 }]);
      const slots = await db.query("SELECT count(*)::int AS n FROM baton.concurrency_slots WHERE workflow = 'lim_two'");
      assert.equal(slots.rows[0].n, 0);
    } finally {
      second.client.close();
      await second.server.close();
    }
  });
});
