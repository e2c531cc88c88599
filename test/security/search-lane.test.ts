// Searches and counts of runs cost however many runs a caller's filter
// touches (issue 14): a version filter read every run of the name (a million
// runs: 2.3 s a count) until runs_name_version_created_id; here that index is
// dropped, so the count stands for any search no index serves. They ran on the pool that timers, the outbox, replica
// heartbeats, key lookups and every read of a run use: a reader's twenty
// concurrent counts over a million runs made another key's GetWorkflow fail
// after 30 s. Now they have connections of their own, taken in turn by keys,
// and PostgreSQL stops a statement past the search limit.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { BatonClient } from "@baton/client";
import { createLogger, startServer, type BatonServer } from "@baton/server";
import { flowOf } from "../support/flows.js";
import { startSecureServer, type SecureServer } from "./support.js";

/** Runs of one name written by SQL: without the version index, a count of them by version reads each (hundreds of milliseconds). */
const RUNS = 100_000;

let s: SecureServer;
let db: pg.Client;
let operator: BatonClient;
let runId: string;

before(async () => {
  s = await startSecureServer({ limits: { searchMs: 60_000 } });
  db = new pg.Client({ connectionString: s.databaseUrl });
  await db.connect();
  const admin = await s.clientWithNewKey({ role: "admin", name: "admin" });
  await admin.registerWorkflowDef(flowOf("many", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
  operator = await s.clientWithNewKey({ role: "operator", name: "operator" });
  runId = await operator.startWorkflow("many", { n: 1 });
  await db.query(
    `INSERT INTO baton.runs (id, name, version, def_hash, status, input, output, variables, created_at, updated_at, ended_at, next_seq)
     SELECT gen_random_uuid(), name, version, def_hash, 'COMPLETED', input, output, variables, created_at - g, updated_at, created_at - g + 5, next_seq
     FROM baton.runs, generate_series(1, $2) g WHERE id = $1`,
    [runId, RUNS],
  );
  await db.query("DROP INDEX baton.runs_name_version_created_id");
  await db.query("ANALYZE baton.runs");
});
after(async () => {
  await db.end();
  await s.close();
});

/** A count that reads every run of the name: no run has version 7. */
const slowCount = (client: BatonClient) => client.workflows.countWorkflows({ name: "many", version: 7 });

/** Waits until PostgreSQL runs (or holds waiting on a lock) at least `n` of those counts (of those whose text is also `like`). */
async function countsInDatabase(n: number, like = "%"): Promise<void> {
  for (;;) {
    // Inside a transaction pg_stat_activity is read once: read it afresh.
    await db.query("SELECT pg_stat_clear_snapshot()");
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%unnest($1::text[])%' AND query LIKE $1 AND pid <> pg_backend_pid()",
      [like],
    );
    if (rows[0]!.n >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Waits until PostgreSQL runs (or holds waiting on a lock) at least `n` counts of named task types' queues. */
async function queueCountsInDatabase(n: number): Promise<void> {
  for (;;) {
    await db.query("SELECT pg_stat_clear_snapshot()");
    const { rows } = await db.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM pg_stat_activity WHERE state = 'active' AND query LIKE '%unnest($4::text[])%' AND pid <> pg_backend_pid()",
    );
    if (rows[0]!.n >= n) return;
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

describe("searches of runs take their key's turn on connections of their own", () => {
  it("a key's slow counts hold neither the server's reads nor another key's search", async () => {
    const greedy = await s.clientWithNewKey({ role: "reader", name: "greedy" });
    const other = await s.clientWithNewKey({ role: "reader", name: "other" });
    let done = 0;
    const counts = Array.from({ length: 20 }, () => slowCount(greedy).then(() => done++));
    await countsInDatabase(1);
    // Counted from when each call is sent: how many of the greedy key's counts it waited for.
    const before = done;
    const run = await other.getWorkflow(runId);
    const readWaited = done - before;
    assert.equal(run.workflowId, runId);
    assert.ok(await operator.startWorkflow("many", { n: 2 }));
    await Promise.all(counts);
    assert.ok(readWaited <= 2, `GetWorkflow waited for ${readWaited} of the 20 slow counts (the pool they held)`);

    // The greedy key's counts held on a lock: its first holds its half of the lane, the rest wait their turn. The other
    // key's count (told apart by its correlation id filter) must reach PostgreSQL beside them, not after them.
    // Counting the greedy key's counts that ended while the other's ran measured their speeds, and failed on a loaded machine.
    await db.query("BEGIN");
    await db.query("LOCK TABLE baton.runs IN ACCESS EXCLUSIVE MODE");
    let held: Promise<unknown>[] = [];
    let otherCount: Promise<unknown> | undefined;
    try {
      held = Array.from({ length: 10 }, () => slowCount(greedy).then(() => done++));
      await countsInDatabase(1);
      otherCount = other.workflows.countWorkflows({ name: "many", version: 7, correlationId: "none" });
      const admitted = await Promise.race([
        countsInDatabase(1, "%r.correlation_id = %").then(() => true),
        new Promise<false>((resolve) => setTimeout(() => resolve(false), 10_000).unref()),
      ]);
      assert.ok(admitted, "the other key's count was not sent to PostgreSQL within 10 s while the greedy key's waited");
    } finally {
      await db.query("COMMIT");
      await Promise.all([...held, otherCount]);
    }
    const count = await slowCount(other);
    assert.equal(
      count.counts.find((c) => c.count > 0n),
      undefined,
      "no run has version 7",
    );
  });

  it("a key's searches beyond the waiting bound are refused, naming it; its others are answered", async () => {
    const eager = await s.clientWithNewKey({ role: "reader", name: "eager" });
    // One count held by a lock holds the key's turn; of 66 searches sent behind it, 64 may wait.
    await db.query("BEGIN");
    await db.query("LOCK TABLE baton.runs IN ACCESS EXCLUSIVE MODE");
    const holding = slowCount(eager);
    const refused: (Error & { code?: number })[] = [];
    let searches: Promise<unknown>[] = [];
    try {
      await countsInDatabase(1);
      searches = Array.from({ length: 66 }, () => eager.searchWorkflows({ name: "many", pageSize: 1 }).catch((e: Error) => refused.push(e)));
      // The refused are answered at once; the 64 waiting once the lock goes.
      for (let polls = 0; polls < 2_000 && refused.length < 2; polls++) await new Promise((resolve) => setTimeout(resolve, 5));
    } finally {
      await db.query("COMMIT");
    }
    await Promise.all(searches);
    await holding;
    assert.equal(refused.length, 2, `${refused.length} of 66 refused: ${refused[0]?.message}`);
    assert.equal(refused[0]!.code, 8); // RESOURCE_EXHAUSTED
    assert.match(refused[0]!.message, /this key has 64 searches of runs waiting for their turn; wait for their answers before sending more/);
  });
});

describe("a search past the time limit", () => {
  let limited: BatonServer;
  let reader: BatonClient;
  before(async () => {
    // A second replica on the same database, its searches limited to 100 ms.
    limited = await startServer({ databaseUrl: s.databaseUrl, port: 0, auth: { mode: "required" }, logger: createLogger("silent"), limits: { searchMs: 100 } });
    reader = new BatonClient({ address: limited.address, token: (await s.registry.create({ role: "reader", name: "reader" })).key, tls: false });
  });
  after(async () => {
    reader.close();
    await limited.close();
  });

  it("is stopped by PostgreSQL, and its caller told to narrow it", async () => {
    // Held by a lock, the count runs past the limit however fast the machine.
    await db.query("BEGIN");
    await db.query("LOCK TABLE baton.runs IN ACCESS EXCLUSIVE MODE");
    const counted = slowCount(reader).then(
      () => undefined,
      (e: Error & { code?: number }) => e,
    );
    // Without a limit the count would wait for the lock for ever: the lock goes after 10 s at most.
    const error = await Promise.race([counted, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000).unref())]);
    await db.query("COMMIT");
    await counted;
    assert.ok(error, "the count was answered, or still waited after 10 s");
    assert.equal(error.code, 8, error.message); // RESOURCE_EXHAUSTED
    assert.match(error.message, /the search ran longer than 0\.1 s and was stopped; narrow it .*BATON_SEARCH_SECONDS/);
    const quick = await reader.searchWorkflows({ name: "many", pageSize: 5 });
    assert.equal(quick.workflows.length, 5, "a search the indexes answer is not stopped");
  });

  it("counts queue sizes in the lane too: a page of them is stopped, and its caller told to ask for fewer", async () => {
    // A page counts every task queued of its types (a million of one type: 1.8 s); it ran on the pool of the server's own reads.
    await db.query("BEGIN");
    await db.query("LOCK TABLE baton.queue IN ACCESS EXCLUSIVE MODE");
    const listed = reader.tasks.listQueues({ pageSize: 10 }).then(
      () => undefined,
      (e: Error & { code?: number }) => e,
    );
    const error = await Promise.race([listed, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000).unref())]);
    await db.query("COMMIT");
    await listed;
    assert.ok(error, "the page was answered, or still waited after 10 s");
    assert.equal(error.code, 8, error.message); // RESOURCE_EXHAUSTED
    assert.match(error.message, /ran longer than 0\.1 s and was stopped; narrow it \(fewer task types \(task_types\), a smaller page\).*BATON_SEARCH_SECONDS/);
    const { queues } = await reader.tasks.listQueues({ pageSize: 10 });
    assert.ok(Array.isArray(queues), "unlocked, the page is answered");
  });

  it("counts a route's version health in the lane too: it is stopped, and its caller told to shorten the window", async () => {
    // GetRouteStatus counts every run of the name in its window and sorts their durations (300,000 runs: 0.7 s), on the
    // pool of the server's own reads: a reader's twenty at once made another key's GetWorkflow wait 2.2 s.
    await db.query("BEGIN");
    await db.query("LOCK TABLE baton.runs IN ACCESS EXCLUSIVE MODE");
    const counted = reader.routes.getRouteStatus({ workflowName: "many", windowSeconds: 315_360_000 }).then(
      () => undefined,
      (e: Error & { code?: number }) => e,
    );
    const error = await Promise.race([counted, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000).unref())]);
    await db.query("COMMIT");
    await counted;
    assert.ok(error, "the route status was answered, or still waited after 10 s");
    assert.equal(error.code, 8, error.message); // RESOURCE_EXHAUSTED
    assert.match(error.message, /ran longer than 0\.1 s and was stopped; narrow it \(a shorter window \(window_seconds\)\).*BATON_SEARCH_SECONDS/);
    const status = await reader.routes.getRouteStatus({ workflowName: "none", windowSeconds: 60 });
    assert.deepEqual(status.versions, [], "unlocked, a status is answered");
  });

  it("counts a purge's dry run in the lane too: it is stopped, and its caller told to narrow it", async () => {
    // A dry run counts every ended run before the time and their tasks (240,000 runs of two tasks: 2.5 s), on the pool of
    // the server's own reads: twenty at once held it, and another key's GetWorkflow waited 10 s.
    const admin = new BatonClient({ address: limited.address, token: (await s.registry.create({ role: "admin", name: "purger" })).key, tls: false });
    await db.query("BEGIN");
    await db.query("LOCK TABLE baton.tasks IN ACCESS EXCLUSIVE MODE");
    const counted = admin.purgeRuns(s.clock.now() + 1, { dryRun: true }).then(
      () => undefined,
      (e: Error & { code?: number }) => e,
    );
    const error = await Promise.race([counted, new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 10_000).unref())]);
    await db.query("COMMIT");
    await counted;
    assert.ok(error, "the dry run was answered, or still waited after 10 s");
    assert.equal(error.code, 8, error.message); // RESOURCE_EXHAUSTED
    assert.match(error.message, /ran longer than 0\.1 s and was stopped; narrow it \(a workflow name, an earlier time\).*BATON_SEARCH_SECONDS/);
    const dry = await admin.purgeRuns(1, { dryRun: true });
    assert.equal(dry.runs, 0, "unlocked, the dry run is answered");
    admin.close();
  });
});

describe("Conductor's queue sizes", () => {
  let rest: BatonServer;
  before(async () => {
    // A replica with Conductor's REST port; its statements are not stopped while the test holds its lock.
    rest = await startServer({
      databaseUrl: s.databaseUrl,
      port: 0,
      auth: { mode: "required" },
      logger: createLogger("silent"),
      conductor: { port: 0 },
      limits: { searchMs: 60_000 },
    });
  });
  after(() => rest.close());

  it("are counted in the lane as their caller's key: it holds its share, and another key's count is not refused", async () => {
    // They were counted as no key's, as callers without keys are: every REST caller shared it, and it may take the whole lane.
    const greedy = (await s.registry.create({ role: "reader", name: "rest-greedy" })).key;
    const other = (await s.registry.create({ role: "reader", name: "rest-other" })).key;
    const sizes = (key: string, type: string) =>
      fetch(`http://${rest.conductorAddress}/api/tasks/queue/sizes?taskType=${type}`, { headers: { authorization: `Bearer ${key}` } }).then(async (r) => {
        await r.text();
        return r.status;
      });
    await db.query("BEGIN");
    await db.query("LOCK TABLE baton.queue IN ACCESS EXCLUSIVE MODE");
    let greedyAnswers: Promise<number>[] = [];
    let otherAnswer: Promise<number> | undefined;
    try {
      // Each asks for another type (calls for the same page share one count). Held by the lock, a key's share of the lane
      // runs, 64 more wait, and the rest are refused at once.
      greedyAnswers = Array.from({ length: 67 }, (_, i) => sizes(greedy, `greedy_${i}`));
      const refusals = async () =>
        (await Promise.all(greedyAnswers.map((a) => Promise.race([a, Promise.resolve(0)])))).filter((status) => status === 429).length;
      for (let polls = 0; polls < 2_000 && (await refusals()) === 0; polls++) await new Promise((resolve) => setTimeout(resolve, 5));
      otherAnswer = sizes(other, "other_type");
      // The other key's count takes the lane's other connection and waits on the lock too.
      await Promise.race([queueCountsInDatabase(2), otherAnswer, new Promise((resolve) => setTimeout(resolve, 10_000).unref())]);
    } finally {
      await db.query("COMMIT");
    }
    assert.equal(await otherAnswer, 200, "another key's queue size was refused for the greedy key's waiting counts");
    const statuses = await Promise.all(greedyAnswers);
    // Two connections: the key's share is one.
    assert.equal(statuses.filter((status) => status === 429).length, 2, `the greedy key's answers: ${statuses.join(", ")}`);
  });
});
