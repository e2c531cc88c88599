// What a list of runs holds (issue 14): each run carries up to 2 MiB of
// input, of output and of variables, and SearchWorkflows answered up to 1,000
// runs a page, read whole into the server: a reader's one search over runs
// with large inputs built an answer of gigabytes (60 runs of 2 MB: a 120 MB
// answer, two minutes of the server's work, that the client then refused as
// too large). Pages now also end after about 4 MiB of runs; Conductor's REST
// lists, which answer everything at once, are refused past 64 MiB.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { startRestHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";
import { statementsDuring } from "../support/statements.js";

const MiB = 1024 * 1024;
let h: Harness & { rest: string };
let db: pg.Client;

/** `count` more runs like `id` (same name, correlation id and payloads; each a millisecond older), written by SQL. */
async function copiesOf(id: string, count: number): Promise<void> {
  await db.query(
    `INSERT INTO baton.runs (id, name, version, def_hash, status, correlation_id, priority, input, output, variables, created_at, updated_at, next_seq)
     SELECT gen_random_uuid(), name, version, def_hash, status, correlation_id, priority, input, output, variables, created_at - g, updated_at, next_seq
     FROM baton.runs, generate_series(1, $2) g WHERE id = $1`,
    [id, count],
  );
}

before(async () => {
  h = await startRestHarness();
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
  await h.client.registerWorkflowDef(flowOf("big_inputs", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
  await h.client.registerWorkflowDef(flowOf("small_inputs", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
  const big = await h.client.startWorkflow("big_inputs", { text: "x".repeat(MiB) }, { correlationId: "big" });
  await copiesOf(big, 69);
  const small = await h.client.startWorkflow("small_inputs", { n: 1 });
  await copiesOf(small, 1_200);
});
after(async () => {
  await db.end();
  await h.close();
});

describe("lists of runs are bounded by bytes", () => {
  it("SearchWorkflows ends a page after about 4 MiB of runs, and its pages list every run once", async () => {
    const seen = new Set<string>();
    let pageToken = "";
    let pages = 0;
    do {
      const page = await h.client.searchWorkflows({ name: "big_inputs", pageSize: 1000, pageToken });
      assert.ok(page.workflows.length >= 1 && page.workflows.length <= 4, `a page of ${page.workflows.length} runs of 1 MiB`);
      for (const run of page.workflows) {
        assert.ok(!seen.has(run.workflowId), "each run once");
        seen.add(run.workflowId);
        assert.equal((run.input as { text: string }).text.length, MiB, "runs come whole");
      }
      pageToken = page.nextPageToken;
      pages++;
    } while (pageToken);
    assert.equal(seen.size, 70);
    assert.equal(pages, Math.ceil(70 / 4), "4 runs of just over 1 MiB a page");
  });

  it("runs with small payloads still come 1,000 a page, and the last page has no token", async () => {
    const first = await h.client.searchWorkflows({ name: "small_inputs", pageSize: 1000 });
    assert.equal(first.workflows.length, 1000);
    assert.notEqual(first.nextPageToken, "");
    const second = await h.client.searchWorkflows({ name: "small_inputs", pageSize: 1000, pageToken: first.nextPageToken });
    assert.equal(second.workflows.length, 201);
    assert.equal(second.nextPageToken, "");
  });

  it("Conductor's search is refused past 64 MiB of runs, saying how to narrow it; a smaller one is answered", async () => {
    const query = encodeURIComponent("workflowType = 'big_inputs'");
    const wide = await fetch(`${h.rest}/api/workflow/search-v2?size=100&query=${query}`);
    assert.equal(wide.status, 400);
    assert.match(await wide.text(), /more than 64 MiB of payloads.*narrow the query/);
    const narrow = await fetch(`${h.rest}/api/workflow/search-v2?size=10&query=${query}`);
    assert.equal(narrow.status, 200);
    const body = (await narrow.json()) as { totalHits: number; results: unknown[] };
    assert.equal(body.results.length, 10);
  });

  it("the running ids of a workflow read no payloads: all 70 are listed", async () => {
    // They were read (up to 6 MiB a run) and left out: 300 runs of 1 MiB inputs took 34 s to list, 10,000 would take minutes.
    const rows: Promise<unknown>[] = [];
    let ids: string[] = [];
    await statementsDuring(
      async () => {
        ids = (await (await fetch(`${h.rest}/api/workflow/running/big_inputs`)).json()) as string[];
      },
      (_args, results) => rows.push(results.then((r) => JSON.stringify((r as pg.QueryResult).rows ?? []).length).catch(() => 0)),
    );
    assert.equal(ids.length, 70);
    const read = ((await Promise.all(rows)) as number[]).reduce((a, b) => a + b, 0);
    assert.ok(read < MiB, `${read} bytes of rows read for 70 run ids`);
    // SearchWorkflows leaves the payloads out when asked, and its page is not cut short by them.
    const page = await h.client.workflows.searchWorkflows({ name: "big_inputs", pageSize: 1000, withoutPayloads: true });
    assert.equal(page.workflows.length, 70);
    assert.deepEqual(new Set(page.workflows.flatMap((w) => [w.inputJson, w.outputJson, w.variablesJson])), new Set([""]));
  });

  it("the running ids of one version are found by the search's statement: those behind 10,000 newer runs of another version are listed", async () => {
    // The version was filtered after reading up to 10,000 ids, newest first: a version's runs older than 10,000 of another's were
    // missed (none listed here), and every other version's run was read to be dropped.
    const versioned = (version: number) => ({ ...flowOf("versioned", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]), version });
    await h.client.registerWorkflowDef(versioned(1));
    await h.client.registerWorkflowDef(versioned(2));
    const second = await h.client.startWorkflow("versioned", {}, { version: 2 });
    await copiesOf(second, 2);
    const first = await h.client.startWorkflow("versioned", {}, { version: 1 });
    // 10,000 runs of version 1, each a millisecond newer than the last.
    await db.query(
      `INSERT INTO baton.runs (id, name, version, def_hash, status, correlation_id, priority, input, output, variables, created_at, updated_at, next_seq)
       SELECT gen_random_uuid(), name, version, def_hash, status, correlation_id, priority, input, output, variables, created_at + g, updated_at, next_seq
       FROM baton.runs, generate_series(1, 10_000) g WHERE id = $1`,
      [first],
    );
    const rows: Promise<number>[] = [];
    let ids: string[] = [];
    await statementsDuring(
      async () => {
        ids = (await (await fetch(`${h.rest}/api/workflow/running/versioned?version=2`)).json()) as string[];
      },
      (_args, results) => rows.push(results.then((r) => (r as pg.QueryResult).rows?.length ?? 0).catch(() => 0)),
    );
    const expected = (await db.query<{ id: string }>("SELECT id FROM baton.runs WHERE name = 'versioned' AND version = 2 ORDER BY created_at DESC")).rows;
    assert.deepEqual(
      ids,
      expected.map((r) => r.id),
      "version 2's three runs, newest first",
    );
    const read = (await Promise.all(rows)).reduce((a, b) => a + b, 0);
    assert.ok(read < 100, `${read} rows read for 3 run ids`);
    const refused = await fetch(`${h.rest}/api/workflow/running/versioned?version=-1`);
    assert.equal(refused.status, 400);
    assert.match(await refused.text(), /version must be 1 or more/);
  });

  it("the runs of a correlation id are refused past 64 MiB", async () => {
    const res = await fetch(`${h.rest}/api/workflow/big_inputs/correlated/big?includeClosed=true`);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /more than 64 MiB of payloads/);
  });
});
