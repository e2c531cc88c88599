// What operators watch: the schema version this database is at, and
// transactions held open long enough to block others.
import type { Queryable } from "./db.js";

export async function schemaVersion(q: Queryable): Promise<number> {
  const { rows } = await q.query<{ version: number }>("SELECT coalesce(max(version), 0)::int AS version FROM baton.migrations");
  return rows[0]?.version ?? 0;
}

export interface OpenTransaction {
  pid: number;
  ageMs: number;
  state: string;
  application: string;
  /** Backends of the database waiting for a lock (the same number on every row). */
  blocked: number;
}

/** The oldest open transactions on the database, any client's but this connection's. */
export async function openTransactions(q: Queryable, limit: number): Promise<OpenTransaction[]> {
  const { rows } = await q.query<{ pid: number; age_ms: number; state: string; application: string; blocked: number }>(
    `SELECT pid, (extract(epoch FROM now() - xact_start) * 1000)::bigint AS age_ms, coalesce(state, '') AS state,
            coalesce(application_name, '') AS application,
            (SELECT count(*)::int FROM pg_stat_activity b WHERE b.datname = current_database() AND b.wait_event_type = 'Lock') AS blocked
     FROM pg_stat_activity
     WHERE datname = current_database() AND xact_start IS NOT NULL AND pid <> pg_backend_pid()
     ORDER BY xact_start LIMIT $1`,
    [limit],
  );
  return rows.map((r) => ({ pid: r.pid, ageMs: Number(r.age_ms), state: r.state, application: r.application, blocked: r.blocked }));
}
