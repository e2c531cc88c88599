// The runs list and its counts filtered by name and version (issue 14): no
// index held the version, so both read every run of the name and checked its
// version in the heap. At 300,000 runs of one name, a page of a version's 10
// runs read all 300,000 (11,112 buffers, 71 ms) and its counts 1.8 million
// (66,672 buffers, 333 ms); with runs_name_version_created_id, 13 and 78
// buffers. The test asks PostgreSQL how many rows the server's own statements
// read (EXPLAIN ANALYZE of each, as sent), which does not depend on the
// machine's speed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { flowOf } from "../support/flows.js";
import { startHarness, type Harness } from "../support/harness.js";
import { statementsDuring } from "../support/statements.js";

/** Runs of version 1 written by SQL beside the version's few. */
const RUNS = 100_000;
/** Runs of version 2. */
const FEW = 10;

interface PlanNode {
  "Relation Name"?: string;
  "Actual Rows": number;
  "Actual Loops": number;
  "Rows Removed by Filter"?: number;
  "Rows Removed by Index Recheck"?: number;
  Plans?: PlanNode[];
}

/** Rows a plan's scans of tables read: those they returned and those their filters removed, over every loop. */
function rowsRead(node: PlanNode): number {
  // PostgreSQL gives the rows per loop, averaged.
  const own = node["Relation Name"]
    ? Math.round((node["Actual Rows"] + (node["Rows Removed by Filter"] ?? 0) + (node["Rows Removed by Index Recheck"] ?? 0)) * node["Actual Loops"])
    : 0;
  return own + (node.Plans ?? []).reduce((n, child) => n + rowsRead(child), 0);
}

describe("the runs list filtered by version", () => {
  let h: Harness;
  let db: pg.Client;
  before(async () => {
    h = await startHarness({ manualClock: false });
    db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
    const flow = flowOf("versioned", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]);
    await h.client.registerWorkflowDef(flow);
    await h.client.registerWorkflowDef({ ...flow, version: 2 });
    const runId = await h.client.startWorkflow("versioned", {}, { version: 1 });
    for (let i = 0; i < FEW; i++) await h.client.startWorkflow("versioned", {}, { version: 2 });
    await db.query(
      `INSERT INTO baton.runs (id, name, version, def_hash, status, input, output, variables, created_at, updated_at, ended_at, next_seq)
       SELECT gen_random_uuid(), name, version, def_hash, 'COMPLETED', input, output, variables, created_at - g, updated_at, created_at - g + 5, next_seq
       FROM baton.runs, generate_series(1, $2) g WHERE id = $1`,
      [runId, RUNS],
    );
    await db.query("ANALYZE baton.runs");
  });
  after(async () => {
    await db.end();
    await h.close();
  });

  /** The rows each statement on baton.runs that `fn` sends reads, as PostgreSQL counts them running it again. */
  async function rowsReadBy(fn: () => Promise<unknown>): Promise<number[]> {
    const sent: { text: string; values: unknown[] }[] = [];
    await statementsDuring(fn, (args) => {
      const first = args[0] as string | { text: string; values?: unknown[] };
      const text = typeof first === "string" ? first : first.text;
      const values = (typeof first === "string" ? (args[1] as unknown[] | undefined) : first.values) ?? [];
      if (/FROM baton\.runs r? ?WHERE/.test(text) && text.includes("version =")) sent.push({ text, values });
    });
    assert.ok(sent.length > 0, "the statements were seen");
    const read: number[] = [];
    for (const { text, values } of sent) {
      const { rows } = await db.query<{ "QUERY PLAN": [{ Plan: PlanNode }] }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${text}`, values);
      read.push(rowsRead(rows[0]!["QUERY PLAN"][0].Plan));
    }
    return read;
  }

  it("a page of a version's runs reads those runs, not every run of the name", async () => {
    let found = 0;
    const read = await rowsReadBy(async () => {
      found = (await h.client.workflows.searchWorkflows({ name: "versioned", version: 2, pageSize: 20 })).workflows.length;
    });
    assert.equal(found, FEW);
    for (const n of read) assert.ok(n <= 2 * FEW, `a statement read ${n} rows for ${FEW} runs`);
  });

  it("a version's counts read its runs, and a version without runs reads none", async () => {
    let counted = 0n;
    const read = await rowsReadBy(async () => {
      counted = (await h.client.workflows.countWorkflows({ name: "versioned", version: 2 })).counts.reduce((n, c) => n + c.count, 0n);
      await h.client.workflows.countWorkflows({ name: "versioned", version: 7 });
    });
    assert.equal(counted, BigInt(FEW));
    // Each of the six statuses' counts reads the version's runs at most.
    for (const n of read) assert.ok(n <= 6 * FEW, `a count read ${n} rows for ${FEW} runs`);
  });
});
