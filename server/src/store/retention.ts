// Removing ended runs in small batches: each batch is one short transaction
// that locks up to `limit.runs` ended runs (SKIP LOCKED: another replica's
// batch, or an event on one of them, is never waited for), keeps the oldest
// of them whose tasks add up to at most `limit.tasks` (at least one run, so a
// run larger than that still goes, alone), deletes their task logs, then
// their tasks, queue rows and the runs, and commits. A task's log holds up to
// 10,000 lines, which no task count shows: when the runs have more than
// `limit.logs` lines, the batch deletes that many and commits, and the next
// one takes the same runs up again (their lines go first; nothing reads an
// ended run's log past its retention but the curious, and the export does
// not carry logs). A run that is not ended when its row is locked (retried or
// restarted meanwhile) is left alone, and so is a child run whose parent is
// still running.
import { stringifyJson } from "@baton/protocol";
import type pg from "pg";
import { transaction, type Queryable } from "./db.js";

export interface PurgeFilter {
  /** Ended strictly before this instant (epoch ms). */
  before: number;
  /** Only runs of this workflow. */
  workflow?: string;
  /** Leave out runs of these workflows (they have retention periods of their own). */
  except?: string[];
}

export interface RemovedRun {
  run: Record<string, unknown>;
  tasks: Record<string, unknown>[];
}

const TERMINAL = "('COMPLETED', 'FAILED', 'TIMED_OUT', 'TERMINATED')";

function where(f: PurgeFilter, params: unknown[]): string {
  params.push(f.before);
  const parts = [`r.ended_at > 0 AND r.ended_at < $${params.length} AND r.status IN ${TERMINAL}`];
  if (f.workflow) {
    params.push(f.workflow);
    parts.push(`r.name = $${params.length}`);
  }
  if (f.except && f.except.length > 0) {
    params.push(f.except);
    parts.push(`r.name <> ALL($${params.length}::text[])`);
  }
  // A child run stays while its parent is running: the parent may still read it (retry, rerun).
  parts.push(`(r.parent_run_id = '' OR NOT EXISTS (SELECT 1 FROM baton.runs p WHERE p.id = r.parent_run_id::uuid AND p.ended_at = 0))`);
  return parts.join(" AND ");
}

/** A removed task as exported: a loop's output whole, with its iteration entries (store/loop-iterations.ts). */
const exportedTask = `CASE WHEN g.type = 'DO_WHILE' THEN to_jsonb(g) || jsonb_build_object('output', g.output || coalesce(
    (SELECT jsonb_object_agg(i.iteration::text, i.output) FROM iterations_gone i WHERE i.task_id = g.id), '{}')) ELSE to_jsonb(g) END`;

/** The most one batch removes: runs, their tasks together (a run with more tasks goes alone), and their log lines. */
export interface BatchLimit {
  runs: number;
  tasks: number;
  logs: number;
}

/**
 * Removes one batch of ended runs; `keep` (e.g. an export) sees the rows before commit, and its failure removes nothing.
 * `more`: the batch stopped at its limit, so more ended runs may match.
 */
export async function removeEndedRuns(
  pool: pg.Pool,
  f: PurgeFilter,
  limit: BatchLimit,
  keep?: (removed: RemovedRun[]) => Promise<void>,
): Promise<{ runs: number; tasks: number; more: boolean }> {
  const params: unknown[] = [];
  const filter = where(f, params);
  params.push(limit.runs, limit.tasks);
  return transaction(pool, async (tx) => {
    // Nothing may wait long on this transaction: a lock it cannot get at once is an error, not a queue.
    await tx.query("SET LOCAL lock_timeout = '2s'");
    const picked = await tx.query<{ candidates: number; victims: string[] }>(
      // A run's tasks are taken as its sequence counter says (every task it made took a number; nothing is counted).
      `WITH candidates AS (
         SELECT r.id, r.ended_at, r.next_seq - 1 AS tasks FROM baton.runs r WHERE ${filter}
         ORDER BY r.ended_at LIMIT $${params.length - 1} FOR UPDATE SKIP LOCKED),
       sized AS (
         SELECT c.id, row_number() OVER w AS n, sum(c.tasks) OVER w AS upto FROM candidates c WINDOW w AS (ORDER BY c.ended_at, c.id))
       SELECT (SELECT count(*) FROM candidates)::int AS candidates,
              coalesce((SELECT array_agg(id) FROM sized WHERE n = 1 OR upto <= $${params.length}), '{}') AS victims`,
      params,
    );
    const { candidates, victims } = picked.rows[0]!;
    if (victims.length === 0) return { runs: 0, tasks: 0, more: false };
    // Each task's lines are looked up in the index on their task (a lateral subquery with a limit runs once per task). As a
    // join, the plan hung on the statistics: with the batch's tasks a fair share of those the planner knew, it read the whole
    // table (a sequential scan, or with enable_seqscan off, as the server's connections run, a merge join along the whole index).
    const logs = await tx.query(
      `DELETE FROM baton.task_logs WHERE ctid = ANY(ARRAY(
         SELECT l.ctid FROM baton.tasks t CROSS JOIN LATERAL (SELECT ctid FROM baton.task_logs WHERE task_id = t.id LIMIT $2) l
         WHERE t.run_id = ANY($1::uuid[]) LIMIT $2))`,
      [victims, limit.logs],
    );
    // At the limit: these runs may have more lines, for the next batch (which takes them up again, oldest first).
    if (logs.rowCount === limit.logs) return { runs: 0, tasks: 0, more: true };
    const { rows } = await tx.query(
      // The rows deleted are returned whole only for `keep`. The runs and tasks are found by = ANY(the batch's runs), and the
      // tasks' lines, loop entries and queue rows by = ANY(the tasks' ids): an index probe per id. Joined to the deleted tasks,
      // whose number the planner can't know, a table could be read whole (a batch of 20 runs of 3 tasks read all 100,000 loop
      // entries of 200 other tasks along their primary key).
      `WITH tasks_gone AS (DELETE FROM baton.tasks t WHERE t.run_id = ANY($1::uuid[]) RETURNING ${keep ? "t.*" : "t.id"}),
       gone_ids AS (SELECT array_agg(id) AS ids FROM tasks_gone),
       logs_gone AS (DELETE FROM baton.task_logs l WHERE l.task_id = ANY((SELECT ids FROM gone_ids)::uuid[]) RETURNING 1),
       iterations_gone AS (DELETE FROM baton.loop_iterations i WHERE i.task_id = ANY((SELECT ids FROM gone_ids)::uuid[]) RETURNING ${keep ? "i.*" : "1"}),
       queue_gone AS (DELETE FROM baton.queue q WHERE q.task_id = ANY((SELECT ids FROM gone_ids)::uuid[]) RETURNING 1),
       runs_gone AS (DELETE FROM baton.runs r WHERE r.id = ANY($1::uuid[]) RETURNING ${keep ? "r.*" : "r.id"})
       SELECT (SELECT coalesce(json_agg(runs_gone), '[]') FROM runs_gone) AS runs,
              ${keep ? `(SELECT coalesce(json_agg(${exportedTask} ORDER BY g.seq), '[]') FROM tasks_gone g)` : "'[]'::json"} AS tasks,
              (SELECT count(*) FROM tasks_gone)::int AS task_count,
              (SELECT count(*) FROM logs_gone)::int AS log_count,
              (SELECT count(*) FROM queue_gone)::int AS queue_count`,
      [victims],
    );
    const row = rows[0] as { runs: Record<string, unknown>[]; tasks: Record<string, unknown>[]; task_count: number };
    if (keep && row.runs.length > 0) {
      const byRun = new Map<string, Record<string, unknown>[]>();
      for (const t of row.tasks) {
        const list = byRun.get(t["run_id"] as string) ?? [];
        list.push(t);
        byRun.set(t["run_id"] as string, list);
      }
      await keep(row.runs.map((run) => ({ run, tasks: byRun.get(run["id"] as string) ?? [] })));
    }
    return { runs: row.runs.length, tasks: row.task_count, more: candidates === limit.runs || row.runs.length < candidates };
  });
}

/** How many ended runs (and their tasks) a purge would remove. */
export async function countEndedRuns(q: Queryable, f: PurgeFilter): Promise<{ runs: number; tasks: number }> {
  const params: unknown[] = [];
  const { rows } = await q.query(
    `WITH victims AS (SELECT r.id FROM baton.runs r WHERE ${where(f, params)})
     SELECT (SELECT count(*) FROM victims)::bigint AS runs,
            (SELECT count(*) FROM baton.tasks t JOIN victims v ON t.run_id = v.id)::bigint AS tasks`,
    params,
  );
  return { runs: Number(rows[0].runs), tasks: Number(rows[0].tasks) };
}

/** The end time of the oldest ended run still stored (epoch ms), or 0. */
export async function oldestEndedRun(q: Queryable): Promise<number> {
  const { rows } = await q.query("SELECT coalesce(min(ended_at), 0) AS oldest FROM baton.runs WHERE ended_at > 0");
  return Number(rows[0].oldest);
}

/** Workflows whose latest version sets its own retention (seconds), by name. */
export async function retentionOverrides(q: Queryable): Promise<Map<string, number>> {
  const { rows } = await q.query(
    `SELECT DISTINCT ON (w.name) w.name, d.body->'retentionSeconds' AS seconds
     FROM baton.workflow_defs w JOIN baton.defs d ON d.hash = w.hash
     ORDER BY w.name, w.version DESC`,
  );
  const out = new Map<string, number>();
  for (const r of rows) if (typeof r.seconds === "number") out.set(r.name as string, r.seconds);
  return out;
}

/** One JSON line per run, its tasks inside. */
export function exportLine(removed: RemovedRun): string {
  return stringifyJson({ ...removed.run, tasks: removed.tasks }) + "\n";
}

export const RETENTION_MIGRATION = {
  name: "ended runs are found by their end time",
  sql: `
    -- Retention removes runs by end time, oldest first. Runs not ended
    -- (ended_at = 0) are not in the index: a run's row is indexed once, when
    -- it ends (when its status, already indexed, changes too).
    CREATE INDEX runs_ended ON baton.runs (ended_at) WHERE ended_at > 0;
  `,
};
