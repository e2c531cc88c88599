// ListQueues counted every queued task, a scan of the queue: with a million
// tasks queued it took 1.8 s, and 20 reader calls at once held 20 of the
// server's database connections for 11 s. It counts a page of task types now
// (a type's tasks are still read to count them), and calls for the same page
// made while its count runs share the next one (store/coalesced-read.ts): at
// most one count of a page runs, and each answer is read after its call was
// made.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { flowOf } from "../support/flows.js";
import { startHarness, type Harness } from "../support/harness.js";

const TYPE = "depth_reads_type";

/** The queue counts the server's connections make while `fn` runs, and the most at once. */
async function queueCounts(fn: () => Promise<unknown>): Promise<{ made: number; mostAtOnce: number }> {
  const client = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = client.query;
  let made = 0;
  let running = 0;
  let mostAtOnce = 0;
  client.query = function (this: unknown, ...args: unknown[]) {
    const text = typeof args[0] === "string" ? args[0] : ((args[0] as { text?: string } | undefined)?.text ?? "");
    if (!text.includes("WITH types AS")) return query.apply(this, args);
    made++;
    mostAtOnce = Math.max(mostAtOnce, ++running);
    // The pool passes a callback; a client's own call gets a promise.
    const callback = args[args.length - 1];
    if (typeof callback === "function") {
      args[args.length - 1] = (...results: unknown[]) => {
        running--;
        return (callback as (...r: unknown[]) => unknown)(...results);
      };
      return query.apply(this, args);
    }
    const result = query.apply(this, args) as Promise<unknown>;
    const done = () => running--;
    void result.then(done, done);
    return result;
  };
  try {
    await fn();
  } finally {
    client.query = query;
  }
  return { made, mostAtOnce };
}

describe("queue depths", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ manualClock: false });
    await h.client.registerWorkflowDef(flowOf("depth_reads_flow", [{ name: TYPE, taskReferenceName: "t", type: "SIMPLE" }]));
    for (let i = 0; i < 3; i++) await h.client.startWorkflow("depth_reads_flow", {});
  });
  after(() => h.close());

  it("twenty ListQueues calls at once make at most two counts, one at a time, and each sees the queue", async () => {
    let answers: Awaited<ReturnType<typeof h.client.tasks.listQueues>>[] = [];
    const { made, mostAtOnce } = await queueCounts(async () => {
      answers = await Promise.all(Array.from({ length: 20 }, () => h.client.tasks.listQueues({})));
    });
    assert.ok(made >= 1 && made <= 2, `${made} counts for 20 calls`);
    assert.equal(mostAtOnce, 1);
    for (const answer of answers) assert.equal(answer.queues.find((q) => q.taskType === TYPE)?.ready, 3n);
  });

  it("a scrape's counts are stopped once the scrape stops waiting for them, not left on a connection", async () => {
    // The metrics' sample waits 2 s for the counts of runs in flight and of every queued task; a count that took longer
    // (a lock, a queue of millions) went on holding a connection of the server's reads after the scrape gave up.
    const db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
    await db.query("BEGIN");
    await db.query("LOCK TABLE baton.queue IN ACCESS EXCLUSIVE MODE");
    let left = -1;
    try {
      await h.server.metrics.text();
      for (let polls = 0; polls < 1_000 && left !== 0; polls++) {
        // Outside a transaction's snapshot: pg_stat_activity read afresh.
        const other = new pg.Client({ connectionString: h.databaseUrl });
        await other.connect();
        const { rows } = await other.query<{ n: number }>(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%FROM baton.queue GROUP BY task_type%' AND pid <> pg_backend_pid()",
        );
        await other.end();
        left = rows[0]!.n;
        if (left !== 0) await new Promise((resolve) => setTimeout(resolve, 10));
      }
    } finally {
      await db.query("COMMIT");
      await db.end();
    }
    assert.equal(left, 0, "the scrape's count of the queue still waited on the lock");
  });

  it("a scrape while the routes' health is read is answered after 2 s, and the next waits for that read rather than begin another", async () => {
    // Each read counts every route's runs of the last hour, one statement a route; a read longer than a second (a lock,
    // thousands of routes) had the next scrape begin another beside it, and the next, on the pool of the server's reads.
    await h.client.setRoute("depth_reads_flow", { weights: [{ version: 1, weight: 100 }] });
    const db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
    await db.query("BEGIN");
    await db.query("LOCK TABLE baton.runs IN ACCESS EXCLUSIVE MODE");
    const counting = async () => {
      const other = new pg.Client({ connectionString: h.databaseUrl });
      await other.connect();
      const { rows } = await other.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%percentile_cont(0.5)%' AND pid <> pg_backend_pid()",
      );
      await other.end();
      return rows[0]!.n;
    };
    const scrapes: Promise<string>[] = [];
    let counts = 0;
    try {
      scrapes.push(h.server.metrics.text());
      while ((await counting()) < 1) await new Promise((resolve) => setTimeout(resolve, 10));
      // The scrape is answered without waiting for the lock (with the last sample read whole: none yet).
      const answered = await Promise.race([scrapes[0]!.then(() => true), new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000).unref())]);
      assert.ok(answered, "the scrape waited for the lock on the runs");
      // A sample is fresh for a second: the next scrape comes after it.
      await new Promise((resolve) => setTimeout(resolve, 1_100));
      scrapes.push(h.server.metrics.text());
      // Before, the second scrape's count reached PostgreSQL within these 5 s, however busy the machine.
      for (let polls = 0; polls < 50; polls++) {
        counts = Math.max(counts, await counting());
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      await db.query("COMMIT");
      await db.end();
    }
    const texts = await Promise.all(scrapes);
    assert.equal(counts, 1, "a second count of the route's runs began beside the first");
    assert.equal(texts.length, 2);
  });

  it("a call made after a count ended reads again: it sees a task queued since", async () => {
    await h.client.tasks.listQueues({});
    await h.client.startWorkflow("depth_reads_flow", {});
    const { queues } = await h.client.tasks.listQueues({});
    assert.equal(queues.find((q) => q.taskType === TYPE)?.ready, 4n);
  });
});
