// The queue of worker tasks: claims (FOR UPDATE SKIP LOCKED, under a per-type
// lock when the type has limits), putting a task back, extending a lease, and
// the depth of each type's queue.
import type pg from "pg";
import type { TaskState } from "../decider/model.js";
import { leaseDeadlineSql } from "../rules/lease.js";
import { transaction, type Queryable } from "./db.js";
import type { FairClaims } from "./fair-claim.js";
import { rowToTask } from "./rows.js";

/** A task type's claim-side limits (from its TaskDef). */
export interface ClaimLimits {
  concurrentExecLimit?: number;
  /** In progress at once per fairness key of their runs. */
  concurrentExecLimitPerKey?: number;
  rateLimitPerFrequency?: number;
  rateLimitFrequencyInSeconds?: number;
}

export interface QueueDepth {
  taskType: string;
  ready: number;
  delayed: number;
  inProgress: number;
}

/**
 * Hands up to `count` ready tasks of `taskType` to a worker: takes their
 * queue rows (SKIP LOCKED, so claimers never wait on each other) and marks
 * the tasks IN_PROGRESS under a fresh lease, in one statement. A type with
 * a concurrency or rate limit is claimed under a per-type lock so replicas
 * cannot overshoot the limit together.
 */
export async function claim(
  pool: pg.Pool,
  taskType: string,
  count: number,
  workerId: string,
  now: number,
  newToken: () => string,
  limits: ClaimLimits,
  fair: FairClaims,
  /** Of `count`, slots a stream keeps for quiet keys: only keys whose whole backlog fits in them take those (see fair-claim.ts). */
  quiet = 0,
): Promise<ClaimedTask[]> {
  const perKey = limits.concurrentExecLimitPerKey ?? 0;
  const limited =
    (limits.concurrentExecLimit ?? 0) > 0 || perKey > 0 || ((limits.rateLimitPerFrequency ?? 0) > 0 && (limits.rateLimitFrequencyInSeconds ?? 0) > 0);
  if (!limited) return claimRows(pool, fair, taskType, count, workerId, now, newToken, undefined, quiet);
  return transaction(pool, async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`baton-claim:${taskType}`]);
    let allowed = count;
    if ((limits.concurrentExecLimit ?? 0) > 0) {
      const { rows } = await tx.query("SELECT count(*)::int AS n FROM baton.tasks WHERE def_name = $1 AND status = 'IN_PROGRESS'", [taskType]);
      allowed = Math.min(allowed, limits.concurrentExecLimit! - (rows[0]?.n as number));
    }
    const per = limits.rateLimitPerFrequency ?? 0;
    const windowMs = (limits.rateLimitFrequencyInSeconds ?? 0) * 1000;
    const windowStart = per > 0 && windowMs > 0 ? Math.floor(now / windowMs) * windowMs : 0;
    if (windowStart) {
      const { rows } = await tx.query(
        `INSERT INTO baton.rate_windows (task_type, window_start, used) VALUES ($1, $2, 0)
         ON CONFLICT (task_type, window_start) DO UPDATE SET used = baton.rate_windows.used RETURNING used`,
        [taskType, windowStart],
      );
      allowed = Math.min(allowed, per - (rows[0]?.used as number));
    }
    // Room left per key: the limit less the key's tasks in progress (a key not listed has all of it).
    let room: ((key: string) => number) | undefined;
    if (perKey > 0) {
      const { rows } = await tx.query(
        `SELECT coalesce(r.extra->>'fairKey', '') AS key, count(*)::int AS n FROM baton.tasks t JOIN baton.runs r ON r.id = t.run_id
         WHERE t.def_name = $1 AND t.status = 'IN_PROGRESS' GROUP BY 1`,
        [taskType],
      );
      const busy = new Map(rows.map((r) => [r.key as string, r.n as number]));
      room = (key) => Math.max(0, perKey - (busy.get(key) ?? 0));
    }
    if (allowed <= 0) return [];
    const claimed = await claimRows(tx, fair, taskType, allowed, workerId, now, newToken, room, Math.min(quiet, allowed));
    if (windowStart && claimed.length > 0) {
      await tx.query("UPDATE baton.rate_windows SET used = used + $3 WHERE task_type = $1 AND window_start = $2", [taskType, windowStart, claimed.length]);
      await tx.query("DELETE FROM baton.rate_windows WHERE task_type = $1 AND window_start < $2", [taskType, windowStart]);
    }
    return claimed;
  });
}

const STARTED_AT = "(CASE WHEN t.started_at = 0 THEN $2 ELSE t.started_at END)";

/**
 * The second half of a claim: given `picked` (queue rows taken, with their
 * key), marks their tasks IN_PROGRESS under fresh leases ($2 now, $4
 * worker, $5 tokens).
 */
const CLAIM_UPDATE = `numbered AS (SELECT task_id, fair_key, row_number() OVER () AS n FROM picked),
     claimed AS (UPDATE baton.tasks t SET
       status = 'IN_PROGRESS',
       poll_count = t.poll_count + 1,
       worker_id = $4,
       lease_token = ($5::text[])[numbered.n],
       started_at = ${STARTED_AT},
       lease_expires_at = ${leaseDeadlineSql({ now: "$2", startedAt: STARTED_AT, leaseSeconds: "t.response_timeout_seconds", timeoutSeconds: "t.timeout_seconds" })},
       updated_at = $2,
       rev = t.rev + 1
     FROM numbered
     WHERE t.id = numbered.task_id AND t.status = 'SCHEDULED'
     RETURNING t.*, numbered.fair_key AS claimed_key)`;

/** The claimed tasks with what a worker is told of their run (Conductor's Task carries it). */
const claimedWithRun = (
  extraColumns = "",
) => `SELECT c.*, r.name AS run_name, r.version AS run_version, r.correlation_id AS run_correlation_id, r.priority AS run_priority${extraColumns}
     FROM claimed c LEFT JOIN baton.runs r ON r.id = c.run_id`;

/** What a worker is told of a claimed task's run. */
export interface ClaimedRun {
  name: string;
  version: number;
  correlationId: string;
  priority: number;
  /** The run's fairness key ("" for none): a dispatch stream takes turns across keys in what it holds (dispatch/stream-sender.ts). */
  fairKey: string;
}

/** A task as handed to a worker: the task and the facts of its run. */
export type ClaimedTask = TaskState & { run: ClaimedRun };

function rowToClaimed(row: Record<string, unknown>): ClaimedTask {
  return {
    ...rowToTask(row),
    run: {
      name: (row.run_name as string | null) ?? "",
      version: (row.run_version as number | null) ?? 0,
      correlationId: (row.run_correlation_id as string | null) ?? "",
      priority: (row.run_priority as number | null) ?? 0,
      fairKey: (row.claimed_key as string | null) ?? "",
    },
  };
}

async function claimRows(
  q: Queryable,
  fair: FairClaims,
  taskType: string,
  count: number,
  workerId: string,
  now: number,
  newToken: () => string,
  room?: (key: string) => number,
  quiet = 0,
): Promise<ClaimedTask[]> {
  // A type with rows of keyed runs is claimed across keys in turn (see fair-claim.ts).
  let got: ClaimedTask[] = [];
  if (await fair.isKeyed(q, taskType, now)) {
    const fairly = await fair.claim(q, taskType, count, now, { room, quiet }, async ({ keys, quotas }) => {
      const n = quotas.reduce((a, b) => a + b, 0);
      // Each key's share is taken by its own index scan, locking only the rows it takes.
      const { rows } = await q.query({
        name: "baton-claim-fair",
        text: `WITH picked AS (
       DELETE FROM baton.queue WHERE task_id = ANY(ARRAY(
         SELECT c.task_id FROM unnest($6::text[], $7::int[]) AS lane(fair_key, quota) CROSS JOIN LATERAL (
           SELECT task_id FROM baton.queue
           WHERE task_type = $1 AND fair_key = lane.fair_key AND visible_at <= $2
           ORDER BY priority DESC, visible_at, seq
           LIMIT lane.quota FOR UPDATE SKIP LOCKED) c
         LIMIT $3))
       RETURNING task_id, fair_key),
     ${CLAIM_UPDATE}
     ${claimedWithRun()}`,
        values: [taskType, now, n, workerId, Array.from({ length: n }, newToken), keys, quotas],
      });
      const perKey = new Map<string, number>();
      for (const row of rows) perKey.set(row.claimed_key as string, (perKey.get(row.claimed_key as string) ?? 0) + 1);
      return { rows: rows.map(rowToClaimed), perKey };
    });
    // Still keyed rows waiting, or none at all: that is the claim.
    if (!fairly.plain) return fairly.rows;
    got = fairly.rows;
  }
  // No keyed rows (any more): every row is of the key "", claimed in plain priority and age order.
  count -= got.length;
  if (room) count = Math.min(count, room("") - got.filter((t) => t.run.fairKey === "").length);
  if (count <= 0) return got;
  const tokens = Array.from({ length: count }, newToken);
  const { rows } = await q.query({
    name: "baton-claim",
    text: `WITH picked AS (
       DELETE FROM baton.queue WHERE task_id IN (
         SELECT task_id FROM baton.queue
         WHERE task_type = $1 AND visible_at <= $2
         ORDER BY priority DESC, visible_at, seq
         LIMIT $3 FOR UPDATE SKIP LOCKED)
       RETURNING task_id, fair_key),
     ${CLAIM_UPDATE}
     ${claimedWithRun()}`,
    values: [taskType, now, count, workerId, tokens],
  });
  return got.length === 0 ? rows.map(rowToClaimed) : [...got, ...rows.map(rowToClaimed)];
}

/**
 * Puts a task handed to a worker that left back in the queue, if its lease is
 * still that one; returns its queue row's type and key (undefined: it was not
 * put back), for the fair claims' count of the key's rows (fair-claim.ts).
 */
export async function requeue(
  q: Queryable,
  taskId: string,
  token: string,
): Promise<{ taskType: string; fairKey: string; fairWeight: number; priority: number } | undefined> {
  const { rows } = await q.query(
    `WITH t AS (
       UPDATE baton.tasks SET status = 'SCHEDULED', lease_token = '', lease_expires_at = 0, worker_id = '', rev = rev + 1
       WHERE id = $1 AND lease_token = $2 AND status = 'IN_PROGRESS'
       RETURNING id, def_name, run_id, visible_at)
     INSERT INTO baton.queue (task_id, task_type, run_id, priority, visible_at, fair_key, fair_weight)
     SELECT t.id, t.def_name, t.run_id, r.priority, t.visible_at, coalesce(r.extra->>'fairKey', ''), coalesce((r.extra->>'fairWeight')::int, 1)
     FROM t JOIN baton.runs r ON r.id = t.run_id
     ON CONFLICT (task_id) DO NOTHING
     RETURNING task_type, fair_key, fair_weight, priority`,
    [taskId, token],
  );
  const row = rows[0];
  return row
    ? { taskType: row.task_type as string, fairKey: row.fair_key as string, fairWeight: row.fair_weight as number, priority: row.priority as number }
    : undefined;
}

/** Pushes the lease of a running task (by `seconds`, or its response timeout when 0); undefined when the token is stale. */
export async function extendLease(q: Queryable, taskId: string, token: string, seconds: number, now: number): Promise<number | undefined> {
  const { rows } = await q.query(
    `UPDATE baton.tasks SET
       lease_expires_at = ${leaseDeadlineSql({ now: "$3", startedAt: "started_at", leaseSeconds: "CASE WHEN $4 > 0 THEN $4 ELSE response_timeout_seconds END", timeoutSeconds: "timeout_seconds" })},
       updated_at = $3, rev = rev + 1
     WHERE id = $1 AND lease_token = $2 AND status = 'IN_PROGRESS'
     RETURNING lease_expires_at`,
    [taskId, token, now, seconds],
  );
  return rows[0]?.lease_expires_at as number | undefined;
}

/**
 * The task types (of `among`, or all) with a task visible in the queue at
 * `now`: the dispatcher asks this once instead of claiming for every type
 * workers wait on, so its cost follows the types with work, not the types
 * workers name. Each step goes down the claim index to the earliest row of
 * one (type, priority): a ready type ends its walk there, and a type's
 * delayed rows cost one step per priority they hold, never a read of each
 * (PostgreSQL before 18 scans no index by skipping: 100,000 tasks put back
 * for later were read by every sweep).
 */
export async function readyTaskTypes(q: Queryable, now: number, among?: readonly string[]): Promise<string[]> {
  const row = "SELECT q.task_type, q.priority, q.visible_at FROM baton.queue q";
  /** After a (type, priority) whose earliest row is not visible yet: that type's next priority down. */
  const lowerPriority = `(${row} WHERE g.visible_at > $1 AND q.task_type = g.task_type AND q.priority < g.priority
     ORDER BY q.priority DESC, q.visible_at LIMIT 1)`;
  const { rows } = among
    ? await q.query(
        `WITH RECURSIVE g AS (
           SELECT f.* FROM unnest($2::text[]) t CROSS JOIN LATERAL (${row} WHERE q.task_type = t ORDER BY q.priority DESC, q.visible_at LIMIT 1) f
           UNION ALL
           SELECT n.* FROM g CROSS JOIN LATERAL ${lowerPriority} n)
         SELECT task_type FROM g WHERE visible_at <= $1`,
        [now, among],
      )
    : await q.query(
        `WITH RECURSIVE g AS (
           (${row} ORDER BY q.task_type, q.priority DESC, q.visible_at LIMIT 1)
           UNION ALL
           SELECT n.* FROM g CROSS JOIN LATERAL (
             ${lowerPriority}
             UNION ALL
             (${row} WHERE q.task_type > g.task_type ORDER BY q.task_type, q.priority DESC, q.visible_at LIMIT 1)
             LIMIT 1) n)
         SELECT task_type FROM g WHERE visible_at <= $1`,
        [now],
      );
  return rows.map((r) => r.task_type as string);
}

/** Per task type: tasks ready, delayed (not visible yet) and leased. */
export async function queueDepths(q: Queryable, now: number): Promise<QueueDepth[]> {
  const { rows } = await q.query(
    `WITH q AS (
       SELECT task_type, count(*) FILTER (WHERE visible_at <= $1) AS ready, count(*) FILTER (WHERE visible_at > $1) AS delayed
       FROM baton.queue GROUP BY task_type),
     p AS (SELECT def_name AS task_type, count(*) AS in_progress FROM baton.tasks
           WHERE status = 'IN_PROGRESS' AND lease_expires_at > 0 GROUP BY def_name)
     SELECT coalesce(q.task_type, p.task_type) AS task_type, coalesce(ready, 0) AS ready, coalesce(delayed, 0) AS delayed,
            coalesce(in_progress, 0) AS in_progress
     FROM q FULL JOIN p ON p.task_type = q.task_type ORDER BY 1`,
    [now],
  );
  return rows.map((r) => ({ taskType: r.task_type, ready: r.ready, delayed: r.delayed, inProgress: r.in_progress }));
}

/** Which task types a page of queue depths covers: up to `limit` after `after`, only `taskTypes` when given. */
export interface QueueDepthPage {
  limit: number;
  after: string;
  taskTypes?: readonly string[];
}

/**
 * Queue depths of up to `limit` task types after `after`, in order, and
 * whether types follow. The types are found by stepping through the indexes
 * from one type to the next (queue_claim for queued tasks,
 * tasks_running_by_type for leased ones) and counted alone, so a page costs
 * its types' rows, not the whole queue (system tasks in progress hold no
 * lease: stepping past a type of them reads its rows). Of `taskTypes`, those
 * with nothing queued or in progress are left out.
 */
export async function queueDepthPage(q: Queryable, now: number, page: QueueDepthPage): Promise<{ depths: QueueDepth[]; next?: string }> {
  const types = page.taskTypes
    ? `SELECT DISTINCT task_type FROM unnest($4::text[]) AS u(task_type) WHERE task_type > $2 ORDER BY task_type LIMIT $3`
    : `WITH RECURSIVE
         queued AS (
           (SELECT task_type FROM baton.queue WHERE task_type > $2 ORDER BY task_type LIMIT 1)
           UNION ALL
           SELECT (SELECT q.task_type FROM baton.queue q WHERE q.task_type > queued.task_type ORDER BY q.task_type LIMIT 1)
           FROM queued WHERE queued.task_type IS NOT NULL),
         running AS (
           (SELECT def_name AS task_type FROM baton.tasks WHERE status = 'IN_PROGRESS' AND lease_expires_at > 0 AND def_name > $2 ORDER BY def_name LIMIT 1)
           UNION ALL
           SELECT (SELECT t.def_name FROM baton.tasks t
                   WHERE t.status = 'IN_PROGRESS' AND t.lease_expires_at > 0 AND t.def_name > running.task_type ORDER BY t.def_name LIMIT 1)
           FROM running WHERE running.task_type IS NOT NULL)
       SELECT task_type FROM (
         (SELECT task_type FROM queued WHERE task_type IS NOT NULL LIMIT $3)
         UNION
         (SELECT task_type FROM running WHERE task_type IS NOT NULL LIMIT $3)) u
       ORDER BY task_type LIMIT $3`;
  const { rows } = await q.query(
    `WITH types AS (${types})
     SELECT types.task_type, d.ready, d.delayed, p.in_progress
     FROM types
     CROSS JOIN LATERAL (SELECT count(*) FILTER (WHERE visible_at <= $1) AS ready, count(*) FILTER (WHERE visible_at > $1) AS delayed
                         FROM baton.queue WHERE task_type = types.task_type) d
     CROSS JOIN LATERAL (SELECT count(*) AS in_progress FROM baton.tasks
                         WHERE def_name = types.task_type AND status = 'IN_PROGRESS' AND lease_expires_at > 0) p
     ORDER BY types.task_type`,
    [now, page.after, page.limit + 1, ...(page.taskTypes ? [page.taskTypes] : [])],
  );
  const covered = rows.slice(0, page.limit);
  const depths = covered
    .map((r) => ({ taskType: r.task_type as string, ready: Number(r.ready), delayed: Number(r.delayed), inProgress: Number(r.in_progress) }))
    .filter((d) => d.ready + d.delayed + d.inProgress > 0);
  // The next page starts after the last type this one covered, listed or not.
  return rows.length > page.limit ? { depths, next: covered[covered.length - 1]!.task_type as string } : { depths };
}
