// Routes in PostgreSQL: one row per workflow name (the weights in force), a
// history row per change, sticky keys' versions, and the health of each
// version read from the runs themselves. A change is one transaction that
// locks the route row, so replicas changing one route at once apply in turn,
// and it announces itself with NOTIFY baton_routes so every replica drops its
// cached copy.
import type pg from "pg";
import type { Route, RouteGuard, RouteWeight } from "../routes/route.js";
import { transaction, type Queryable } from "./db.js";
import { notifySql } from "./notifications.js";

export interface RouteChangeRecord {
  revision: number;
  at: number;
  action: string;
  actor: string;
  note: string;
  weights: RouteWeight[];
  sticky: string;
  stableVersion: number;
}

/** Counts of a version's runs started in a window, and the durations of the ended ones. */
export interface VersionCounts {
  version: number;
  started: number;
  running: number;
  completed: number;
  failed: number;
  timedOut: number;
  terminated: number;
  p50: number;
  p99: number;
}

export type RouteUpdate = (
  current: Route | undefined,
) => { route: Omit<Route, "revision" | "updatedAt" | "updatedBy">; action: string; note: string } | undefined;

/** A route's row; `q`: the transaction it is read in, or the pool. */
export async function route(q: Queryable, name: string): Promise<Route | undefined> {
  const { rows } = await q.query("SELECT * FROM baton.routes WHERE name = $1", [name]);
  return rows[0] ? rowToRoute(rows[0]) : undefined;
}

/** Routes with a guard that may roll them back. */
export async function guardedRoutes(q: Queryable): Promise<Route[]> {
  const { rows } = await q.query("SELECT * FROM baton.routes WHERE guard IS NOT NULL ORDER BY name");
  return rows.map(rowToRoute);
}

export async function listRoutes(q: Queryable): Promise<Route[]> {
  const { rows } = await q.query("SELECT * FROM baton.routes ORDER BY name");
  return rows.map(rowToRoute);
}

/**
 * Changes a route in one transaction: locks its row, hands the current
 * route to `update` (which may refuse by throwing, or return undefined for
 * no change), writes the new route and its history entry, and notifies.
 */
export async function changeRoute(
  pool: pg.Pool,
  name: string,
  actor: string,
  now: number,
  update: RouteUpdate,
  expectedRevision = 0,
): Promise<{ route: Route; changed: boolean } | undefined> {
  return transaction(pool, async (tx) => {
    // Lock the name even while it has no route: the history's last revision row, then the route row.
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('baton.routes'), hashtext($1))", [name]);
    const current = await route(tx, name);
    if (expectedRevision > 0 && (current?.revision ?? 0) !== expectedRevision) {
      throw new RevisionMoved(name, expectedRevision, current?.revision ?? 0);
    }
    const next = update(current);
    if (!next) return current ? { route: current, changed: false } : undefined;
    const { rows: last } = await tx.query<{ revision: string | number | null }>("SELECT max(revision) AS revision FROM baton.route_history WHERE name = $1", [
      name,
    ]);
    const revision = Number(last[0]?.revision ?? 0) + 1;
    const changed: Route = { ...next.route, name, revision, updatedAt: now, updatedBy: actor };
    await tx.query(
      `INSERT INTO baton.routes (name, weights, sticky, guard, stable_version, revision, updated_at, updated_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
       ON CONFLICT (name) DO UPDATE SET weights = excluded.weights, sticky = excluded.sticky, guard = excluded.guard,
         stable_version = excluded.stable_version, revision = excluded.revision, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
      [
        name,
        JSON.stringify(changed.weights),
        changed.sticky,
        changed.guard ? JSON.stringify(changed.guard) : null,
        changed.stableVersion,
        revision,
        now,
        actor,
      ],
    );
    await recordChange(tx, changed, next.action, next.note);
    // Sticky keys of versions that left the route draw again; the others keep theirs.
    await tx.query("DELETE FROM baton.route_assignments WHERE name = $1 AND NOT (version = ANY($2::int[]))", [
      name,
      changed.weights.filter((w) => w.weight > 0).map((w) => w.version),
    ]);
    await tx.query(notifySql("routesChanged", "$1"), [name]);
    return { route: changed, changed: true };
  });
}

/** Removes a route (starts get the latest version again); false when there was none. */
export async function deleteRoute(pool: pg.Pool, name: string, actor: string, now: number): Promise<boolean> {
  return transaction(pool, async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('baton.routes'), hashtext($1))", [name]);
    const { rows } = await tx.query("DELETE FROM baton.routes WHERE name = $1 RETURNING *", [name]);
    if (!rows[0]) return false;
    const removed = rowToRoute(rows[0]);
    await recordChange(tx, { ...removed, weights: [], sticky: "", revision: removed.revision + 1, updatedAt: now, updatedBy: actor }, "delete", "");
    await tx.query("DELETE FROM baton.route_assignments WHERE name = $1", [name]);
    await tx.query(notifySql("routesChanged", "$1"), [name]);
    return true;
  });
}

async function recordChange(client: Queryable, route: Route, action: string, note: string): Promise<void> {
  await client.query(
    `INSERT INTO baton.route_history (name, revision, at, action, actor, note, weights, sticky, stable_version)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
    [route.name, route.revision, route.updatedAt, action, route.updatedBy, note, JSON.stringify(route.weights), route.sticky, route.stableVersion],
  );
}

/** A route's changes, newest first. */
export async function routeHistory(q: Queryable, name: string, limit: number): Promise<RouteChangeRecord[]> {
  const { rows } = await q.query("SELECT * FROM baton.route_history WHERE name = $1 ORDER BY revision DESC LIMIT $2", [name, limit]);
  return rows.map((r) => ({
    revision: Number(r["revision"]),
    at: Number(r["at"]),
    action: r["action"] as string,
    actor: r["actor"] as string,
    note: r["note"] as string,
    weights: r["weights"] as RouteWeight[],
    sticky: r["sticky"] as string,
    stableVersion: r["stable_version"] as number,
  }));
}

/**
 * The version a sticky key has: the one it was given before, if that
 * version is still routed; else `proposed`, recorded for next time. Two
 * replicas assigning one key at once agree: the first insert wins.
 */
export async function stickyVersion(q: Queryable, name: string, keyHash: string, proposed: number, routed: readonly number[]): Promise<number> {
  const { rows } = await q.query<{ version: number }>(
    `WITH kept AS (
       SELECT version FROM baton.route_assignments WHERE name = $1 AND key_hash = $2 AND version = ANY($4::int[])
     ), added AS (
       INSERT INTO baton.route_assignments (name, key_hash, version)
       SELECT $1, $2, $3 WHERE NOT EXISTS (SELECT 1 FROM kept)
       ON CONFLICT (name, key_hash) DO UPDATE SET version = excluded.version
         WHERE NOT (baton.route_assignments.version = ANY($4::int[]))
       RETURNING version
     )
     SELECT version FROM kept UNION ALL SELECT version FROM added`,
    [name, keyHash, proposed, routed],
  );
  if (rows[0]) return rows[0].version;
  // Another replica assigned the key between our read and insert: read its choice.
  const again = await q.query<{ version: number }>("SELECT version FROM baton.route_assignments WHERE name = $1 AND key_hash = $2", [name, keyHash]);
  return again.rows[0]?.version ?? proposed;
}

/** Per version, the runs of `name` started at or after `since`: counts by status and ended runs' duration percentiles. */
export async function versionCounts(q: Queryable, name: string, since: number): Promise<VersionCounts[]> {
  return (await versionCountsOf(q, [name], since)).get(name) ?? [];
}

/** versionCounts of each of `names`, in one statement (a metrics scrape's every route): by name, versions in order. */
export async function versionCountsOf(q: Queryable, names: readonly string[], since: number): Promise<Map<string, VersionCounts[]>> {
  const out = new Map<string, VersionCounts[]>();
  if (names.length === 0) return out;
  const { rows } = await q.query(
    `SELECT name, version,
            count(*)::int AS started,
            count(*) FILTER (WHERE status IN ('RUNNING', 'PAUSED'))::int AS running,
            count(*) FILTER (WHERE status = 'COMPLETED')::int AS completed,
            count(*) FILTER (WHERE status = 'FAILED')::int AS failed,
            count(*) FILTER (WHERE status = 'TIMED_OUT')::int AS timed_out,
            count(*) FILTER (WHERE status = 'TERMINATED')::int AS terminated,
            coalesce(percentile_cont(0.5) WITHIN GROUP (ORDER BY ended_at - created_at) FILTER (WHERE ended_at > 0), 0) AS p50,
            coalesce(percentile_cont(0.99) WITHIN GROUP (ORDER BY ended_at - created_at) FILTER (WHERE ended_at > 0), 0) AS p99
       FROM baton.runs WHERE name = ANY($1::text[]) AND created_at >= $2
      GROUP BY name, version ORDER BY name, version`,
    [names, since],
  );
  for (const r of rows) {
    const name = r["name"] as string;
    if (!out.has(name)) out.set(name, []);
    out.get(name)!.push({
      version: r["version"] as number,
      started: r["started"] as number,
      running: r["running"] as number,
      completed: r["completed"] as number,
      failed: r["failed"] as number,
      timedOut: r["timed_out"] as number,
      terminated: r["terminated"] as number,
      p50: Number(r["p50"]),
      p99: Number(r["p99"]),
    });
  }
  return out;
}

/** A change asked for a revision the route has moved past. */
export class RevisionMoved extends Error {
  constructor(
    readonly workflowName: string,
    readonly expected: number,
    readonly actual: number,
  ) {
    super(`route ${workflowName} is at revision ${actual}, not ${expected}: read it again and retry`);
    this.name = "RevisionMoved";
  }
}

function rowToRoute(r: Record<string, unknown>): Route {
  const guard = r["guard"] as RouteGuard | null;
  return {
    name: r["name"] as string,
    weights: r["weights"] as RouteWeight[],
    sticky: r["sticky"] as string,
    ...(guard ? { guard } : {}),
    stableVersion: r["stable_version"] as number,
    revision: Number(r["revision"]),
    updatedAt: Number(r["updated_at"]),
    updatedBy: r["updated_by"] as string,
  };
}
