// EXPLAIN ANALYZE of the runs list's queries (what SearchWorkflows and
// CountWorkflows send for the console's filters) on N stored runs, written
// as the console bench writes them. For finding the time, not a test:
//   node --import tsx test/bench/explain-runs.ts [runs=1000000]
import pg from "pg";
import { createLogger, startServer } from "@baton/server";
import { freshDatabase, stopCluster } from "../support/database.js";
import { storeRuns } from "./lib/stored-runs.js";

const runs = Number(process.argv[2] ?? 1_000_000);
const url = await freshDatabase();
// A server migrates the database; nothing else of it is needed.
await (await startServer({ databaseUrl: url, port: 0, logger: createLogger("silent") })).close();
const c = new pg.Client({ connectionString: url });
await c.connect();
const now = Date.now();
await c.query("INSERT INTO baton.defs (hash, body) VALUES ('h', '{}')");
await storeRuns(c, { runs, defHash: "h", now });
// What each index of the runs table costs in space (every run start writes one entry in each).
const { rows: sizes } = await c.query(
  "SELECT indexrelname AS name, pg_size_pretty(pg_relation_size(indexrelid)) AS size FROM pg_stat_user_indexes WHERE relname = 'runs' ORDER BY indexrelname",
);
console.log(`runs indexes at ${runs.toLocaleString("en")} runs: ${sizes.map((r) => `${r.name} ${r.size}`).join(", ")}`);
const mid = now - 86400000 + Math.floor(runs / 2) * 10;
const queries: [string, string, unknown[]][] = [
  ["newest", "SELECT * FROM baton.runs ORDER BY created_at DESC, id DESC LIMIT 51", []],
  ["status", "SELECT * FROM baton.runs WHERE status = $1 ORDER BY created_at DESC, id DESC LIMIT 51", ["FAILED"]],
  ["two statuses", "SELECT * FROM baton.runs WHERE status = ANY($1) ORDER BY created_at DESC, id DESC LIMIT 51", [["FAILED", "TIMED_OUT"]]],
  ["name+version", "SELECT * FROM baton.runs WHERE name = $1 AND version = $2 ORDER BY created_at DESC, id DESC LIMIT 51", ["bench_console_7", 1]],
  [
    "name+status (none match)",
    "SELECT * FROM baton.runs WHERE name = $1 AND status = $2 ORDER BY created_at DESC, id DESC LIMIT 51",
    ["bench_console_7", "FAILED"],
  ],
  ["name+status", "SELECT * FROM baton.runs WHERE name = $1 AND status = $2 ORDER BY created_at DESC, id DESC LIMIT 51", ["bench_console_7", "TERMINATED"]],
  [
    "name+two statuses",
    "SELECT * FROM baton.runs WHERE name = $1 AND status = ANY($2) ORDER BY created_at DESC, id DESC LIMIT 51",
    ["bench_console_7", ["FAILED", "TERMINATED"]],
  ],
  ["correlation", "SELECT * FROM baton.runs WHERE correlation_id = $1 ORDER BY created_at DESC, id DESC LIMIT 51", ["order-4242"]],
  [
    "next page (deep)",
    "SELECT * FROM baton.runs WHERE (created_at, id) < ($1, $2::uuid) ORDER BY created_at DESC, id DESC LIMIT 51",
    [mid, "c0000001-0000-4000-8000-000000000000"],
  ],
  [
    "status next page (deep)",
    "SELECT * FROM baton.runs WHERE status = $1 AND (created_at, id) < ($2, $3::uuid) ORDER BY created_at DESC, id DESC LIMIT 51",
    ["FAILED", mid, "c0000001-0000-4000-8000-000000000000"],
  ],
  ["oldest from", "SELECT * FROM baton.runs WHERE created_at >= $1 ORDER BY created_at ASC, id ASC LIMIT 51", [now - 86400000 + 5_000_000]],
  // The other orders (RunOrder): each reads its index in order, entered at the page token's keyset.
  ["end desc", "SELECT * FROM baton.runs ORDER BY ended_at DESC, id DESC LIMIT 51", []],
  ["end asc (not ended first)", "SELECT * FROM baton.runs ORDER BY ended_at ASC, id ASC LIMIT 51", []],
  [
    "end desc next page (deep)",
    "SELECT * FROM baton.runs WHERE (ended_at, id) < ($1, $2::uuid) ORDER BY ended_at DESC, id DESC LIMIT 51",
    [mid, "c0000001-0000-4000-8000-000000000000"],
  ],
  ["name asc", "SELECT * FROM baton.runs ORDER BY name ASC, created_at ASC, id ASC LIMIT 51", []],
  ["name desc", "SELECT * FROM baton.runs ORDER BY name DESC, created_at DESC, id DESC LIMIT 51", []],
  [
    "name asc next page (deep)",
    "SELECT * FROM baton.runs WHERE (name, created_at, id) > ($1, $2, $3::uuid) ORDER BY name ASC, created_at ASC, id ASC LIMIT 51",
    ["bench_console_3", mid, "c0000001-0000-4000-8000-000000000000"],
  ],
  ["status asc", "SELECT * FROM baton.runs ORDER BY status ASC, created_at ASC, id ASC LIMIT 51", []],
  ["status desc", "SELECT * FROM baton.runs ORDER BY status DESC, created_at DESC, id DESC LIMIT 51", []],
  [
    "status desc next page (deep)",
    "SELECT * FROM baton.runs WHERE (status, created_at, id) < ($1, $2, $3::uuid) ORDER BY status DESC, created_at DESC, id DESC LIMIT 51",
    ["FAILED", mid, "c0000001-0000-4000-8000-000000000000"],
  ],
  ["name filter, status asc", "SELECT * FROM baton.runs WHERE name = $1 ORDER BY status ASC, created_at ASC, id ASC LIMIT 51", ["bench_console_7"]],
  ["status filter, name desc", "SELECT * FROM baton.runs WHERE status = $1 ORDER BY name DESC, created_at DESC, id DESC LIMIT 51", ["FAILED"]],
  [
    "name+status, name asc",
    "SELECT * FROM baton.runs WHERE name = $1 AND status = $2 ORDER BY name ASC, created_at ASC, id ASC LIMIT 51",
    ["bench_console_7", "TERMINATED"],
  ],
  ["status filter, end desc", "SELECT * FROM baton.runs WHERE status = $1 ORDER BY ended_at DESC, id DESC LIMIT 51", ["FAILED"]],
  ["name filter, end desc", "SELECT * FROM baton.runs WHERE name = $1 ORDER BY ended_at DESC, id DESC LIMIT 51", ["bench_console_7"]],
  // A filter no index of the order's holds, matching few runs: the order's index is read until the page fills.
  ["status filter (none match), end desc", "SELECT * FROM baton.runs WHERE status = $1 ORDER BY ended_at DESC, id DESC LIMIT 51", ["PAUSED"]],
  ["correlation, name asc", "SELECT * FROM baton.runs WHERE correlation_id = $1 ORDER BY name ASC, created_at ASC, id ASC LIMIT 51", ["order-4242"]],
  [
    "counts",
    `SELECT s.status, (SELECT count(*) FROM (SELECT 1 FROM baton.runs r WHERE r.status = s.status LIMIT $2) x)::int AS n FROM unnest($1::text[]) AS s(status)`,
    [["RUNNING", "PAUSED", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"], 10000],
  ],
  [
    "counts by name",
    `SELECT s.status, (SELECT count(*) FROM (SELECT 1 FROM baton.runs r WHERE r.status = s.status AND r.name = $3 LIMIT $2) x)::int AS n FROM unnest($1::text[]) AS s(status)`,
    [["RUNNING", "PAUSED", "COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"], 10000, "bench_console_3"],
  ],
];
for (const [label, sql, params] of queries) {
  await c.query(sql, params); // warm
  const { rows } = await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${sql}`, params);
  const plan = rows.map((r) => r["QUERY PLAN"] as string);
  console.log(`\n== ${label}: ${plan.find((l) => l.startsWith("Execution Time"))}`);
  for (const line of plan.slice(0, 14)) console.log("   " + line);
}
await c.end();
await stopCluster();
