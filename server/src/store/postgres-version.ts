// The PostgreSQL releases Baton runs on: 15 and later. 15 is the oldest
// release its project still supports (14's support ended in November 2026)
// and the oldest the tests run on (.ci/run runs the store's tests on it);
// the embedded PostgreSQL is 18, which the whole suite runs on. A server on an
// older release refuses to start, before it changes anything, rather than
// fail later on some statement or plan that release does not have.
import type pg from "pg";

/** The oldest release Baton runs on, as `server_version_num` counts it (major × 10,000). */
export const MINIMUM_POSTGRES_VERSION = 150000;

/** Refuses a PostgreSQL older than `minimum`, naming the release found, the oldest supported and what to do. */
export async function checkPostgresVersion(client: pg.ClientBase, minimum = MINIMUM_POSTGRES_VERSION): Promise<void> {
  const { rows } = await client.query<{ num: string; version: string }>(
    "SELECT current_setting('server_version_num') AS num, current_setting('server_version') AS version",
  );
  const found = Number(rows[0]!.num);
  if (found >= minimum) return;
  const oldest = Math.floor(minimum / 10000);
  throw new Error(
    `PostgreSQL ${rows[0]!.version} is older than Baton runs on: it needs PostgreSQL ${oldest} or later. ` +
      `Upgrade the database (pg_upgrade, or your provider's major version upgrade) or point BATON_DATABASE_URL at a PostgreSQL ${oldest} or later; ` +
      `the server changed nothing on this one.`,
  );
}
