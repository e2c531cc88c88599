// What one worker key's Dispatch streams may cost everyone else (issue 14).
// A stream may wait on 100 task types and a key could open streams until its
// connections ran out: 200 streams of 100 types each made every sweep of the
// dispatcher a claim per type (20,000 queries every 250 ms), and another
// key's task waited 19 s (p50) to reach its worker. Now a claim goes out only
// for a type with a task ready (the sweep asks the queue once which those
// are; a stream's types no one waited on are looked up in one query), and
// what one key's streams wait on is capped per replica.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BatonClient } from "@baton/client";
import type { LeasedTask } from "@baton/protocol";
import { serverOptionsFromEnv } from "@baton/server";
import pg from "pg";
import { eventually } from "../support/harness.js";
import { flowOf } from "../support/flows.js";
import { statementsDuring } from "../support/statements.js";
import { startSecureServer, type SecureServer } from "./support.js";

type Stream = ReturnType<BatonClient["tasks"]["dispatch"]>;

/** Opens a Dispatch stream waiting on `taskTypes` with `credits`; `tasks` gets what it is sent, `ended` its error, if any. */
function open(client: BatonClient, workerId: string, taskTypes: string[], credits = 0) {
  const stream: Stream = client.tasks.dispatch();
  const tasks: LeasedTask[] = [];
  const state: { ended?: { code: number; details: string } } = {};
  stream.on("data", (message: { task?: LeasedTask }) => message.task && tasks.push(message.task));
  stream.on("error", (error: { code: number; details: string }) => (state.ended = error));
  stream.write({ kind: { case: "subscribe", value: { taskTypes, workerId, domain: "" } } });
  if (credits > 0) stream.write({ kind: { case: "credits", value: credits } });
  return { stream, tasks, state };
}

const typesOf = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}-${i}`);
const until = (check: () => boolean | Promise<boolean>) =>
  eventually(
    async () => await check(),
    (met) => met,
  );
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe("a worker key's many streams of many types", () => {
  let s: SecureServer;
  let admin: BatonClient;
  let flood: BatonClient;
  let worker: BatonClient;
  before(async () => {
    s = await startSecureServer();
    admin = await s.clientWithNewKey({ role: "admin", name: "admin" });
    flood = await s.clientWithNewKey({ role: "worker", taskTypes: ["*"], name: "flood" });
    worker = await s.clientWithNewKey({ role: "worker", taskTypes: ["legit", "legit-other"], name: "legit" });
    await admin.registerWorkflowDef(flowOf("legit_flow", [{ name: "legit", taskReferenceName: "legit", type: "SIMPLE" }]) as never);
  });
  after(() => s.close());

  it("costs no claim for types with no task ready, on subscribe, credits or sweeps", async () => {
    const store = s.server.store;
    let claims = 0;
    let looks = 0;
    const claim = store.claim;
    const readyTaskTypes = store.readyTaskTypes;
    store.claim = (...args) => (claims++, claim(...args));
    store.readyTaskTypes = (...args) => (looks++, readyTaskTypes(...args));
    try {
      const streams = Array.from({ length: 30 }, (_, i) => open(flood, `flood-${i}`, typesOf(`flood-${i}`, 100), 10));
      await until(async () => (await admin.tasks.listWorkers({ taskType: "" })).workers.filter((w) => w.workerId.startsWith("flood-")).length === 30);
      // Four sweeps and more, then a credit on each stream.
      await pause(1200);
      for (const { stream } of streams) stream.write({ kind: { case: "credits", value: 1 } });
      await pause(300);
      assert.equal(claims, 0, "3,000 types waited on with credits, none with a task: no claim");
      // One look per stream, and a few sweeps: not one per type (before: 3,000 claims at the first credits, as many each sweep).
      assert.ok(looks < 30 + 20, `${looks} reads of the ready types`);
      assert.ok(streams.every(({ state }) => !state.ended));
      for (const { stream } of streams) stream.cancel();
    } finally {
      store.claim = claim;
      store.readyTaskTypes = readyTaskTypes;
    }
  });

  it("still hands a stream of several types a task queued before it came, and the next one as it is made", async () => {
    const first = await admin.startWorkflow("legit_flow", {});
    await until(async () => (await admin.tasks.listQueues({})).queues.some((q) => q.taskType === "legit" && q.ready > 0));
    const { stream, tasks } = open(worker, "legit-worker", ["legit", "legit-other"], 2);
    await until(() => tasks.length === 1);
    assert.equal(tasks[0]!.workflowId, first);
    const second = await admin.startWorkflow("legit_flow", {});
    await until(() => tasks.length === 2);
    assert.equal(tasks[1]!.workflowId, second);
    stream.cancel();
  });

  it("finds the types with a task ready without reading through another type's delayed tasks", async () => {
    const db = new pg.Client({ connectionString: s.databaseUrl });
    await db.connect();
    const store = s.server.store;
    const now = s.clock.now();
    /**
     * The statement `read` sent PostgreSQL (its one walk of the queue, with `values`), run again under EXPLAIN:
     * the buffers it touched, and what it answered. The server's own loops send statements meanwhile (a sweep's
     * walk among them, the same as the test's sweep when the clock says the same time); only that walk is run
     * again, once, so none of theirs runs twice.
     */
    const buffersOf = async <T>(values: unknown[], read: () => Promise<T>) => {
      const walks: unknown[][] = [];
      let answer: T | undefined;
      await statementsDuring(
        async () => (answer = await read()),
        (args) => typeof args[0] === "string" && args[0].includes("WITH RECURSIVE g") && JSON.stringify(args[1]) === JSON.stringify(values) && walks.push(args),
      );
      assert.ok(walks.length > 0, "the read sent no walk of the queue");
      const { rows } = await db.query(`EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${walks[0]![0] as string}`, values);
      const plan = (rows[0]["QUERY PLAN"] as { Plan: Record<string, number> }[])[0]!.Plan;
      return { buffers: plan["Shared Hit Blocks"]! + plan["Shared Read Blocks"]!, answer: answer! };
    };
    const queue = (type: string, rows: number, priority: string, visibleAt: number) =>
      db.query(
        `INSERT INTO baton.queue (task_id, task_type, run_id, priority, visible_at)
         SELECT gen_random_uuid(), $1, gen_random_uuid(), ${priority}, $3 FROM generate_series(1, $2) i`,
        [type, rows, visibleAt],
      );
    try {
      // 100,000 tasks put back for an hour on one type, and as many on another ahead of its one ready task of a lower priority.
      await queue("held", 100_000, "i % 3", now + 3_600_000);
      await queue("mixed", 100_000, "5", now + 3_600_000);
      await queue("mixed", 1, "0", now - 1);
      await queue("after", 1, "0", now);
      await queue("before", 1, "0", now - 1);
      await db.query("ANALYZE baton.queue");

      const sweep = await buffersOf([now], () => store.readyTaskTypes(now));
      assert.deepEqual([...sweep.answer].sort(), ["after", "before", "mixed"]);
      // Before, on PostgreSQL 15: 1,543 (the index entry of every delayed row; 18's own skip scan spared it); now a step per type and priority.
      assert.ok(sweep.buffers < 100, `a sweep touched ${sweep.buffers} buffers`);

      const look = await buffersOf([now, ["held", "mixed", "none"]], () => store.readyTaskTypes(now, ["held", "mixed", "none"]));
      assert.deepEqual(look.answer, ["mixed"]);
      assert.ok(look.buffers < 100, `a stream's look touched ${look.buffers} buffers`);
    } finally {
      await db.query("DELETE FROM baton.queue WHERE task_type = ANY($1)", [["held", "mixed", "after", "before"]]);
      await db.end();
    }
  });
});

describe("the task types one key's Dispatch streams may wait on", () => {
  let s: SecureServer;
  before(async () => {
    s = await startSecureServer({ limits: { dispatchSubscriptionsPerKey: 250 } });
  });
  after(() => s.close());

  it("refuses a stream past the limit with RESOURCE_EXHAUSTED naming it and the setting, and not another key's", async () => {
    const flood = await s.clientWithNewKey({ role: "worker", taskTypes: ["*"], name: "flood" });
    const other = await s.clientWithNewKey({ role: "worker", taskTypes: ["*"], name: "other" });
    const reader = await s.clientWithNewKey({ role: "reader", name: "reader" });
    const listed = async (id: string) => (await reader.tasks.listWorkers({ taskType: "" })).workers.some((w) => w.workerId === id);
    const a = open(flood, "a", typesOf("a", 100));
    const b = open(flood, "b", typesOf("b", 100));
    await until(async () => (await listed("a")) && (await listed("b")));

    const c = open(flood, "c", typesOf("c", 100));
    await until(() => c.state.ended !== undefined);
    assert.equal(c.state.ended!.code, 8, "RESOURCE_EXHAUSTED");
    assert.match(c.state.ended!.details, /wait on 200 task types already .* 100 more would pass the 250 one key may .*BATON_DISPATCH_SUBSCRIPTIONS_PER_KEY/);
    assert.equal(await listed("c"), false);

    // What is left of the limit, and another key's own.
    const d = open(flood, "d", typesOf("d", 50));
    const mine = [open(other, "other-1", typesOf("o1", 100)), open(other, "other-2", typesOf("o2", 100))];
    await until(async () => (await listed("d")) && (await listed("other-1")) && (await listed("other-2")));

    // A stream closed gives its types back.
    a.stream.cancel();
    await until(async () => !(await listed("a")));
    const e = open(flood, "e", typesOf("e", 100));
    await until(async () => await listed("e"));
    assert.equal(e.state.ended, undefined);
    for (const { stream } of [b, d, e, ...mine]) stream.cancel();
  });

  it("reads BATON_DISPATCH_SUBSCRIPTIONS_PER_KEY, refusing what is not a positive whole number", () => {
    assert.equal(serverOptionsFromEnv({ BATON_DISPATCH_SUBSCRIPTIONS_PER_KEY: "300" }).limits?.dispatchSubscriptionsPerKey, 300);
    assert.throws(
      () => serverOptionsFromEnv({ BATON_DISPATCH_SUBSCRIPTIONS_PER_KEY: "0" }),
      /BATON_DISPATCH_SUBSCRIPTIONS_PER_KEY must be a positive whole number .* not "0"/,
    );
  });
});
