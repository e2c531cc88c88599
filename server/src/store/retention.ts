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
import { parseJson, stringifyJson } from "@baton/protocol";
import type pg from "pg";
import { transaction, type Queryable, type Tx } from "./db.js";
import { taskOutputSql } from "./loop-iterations.js";

export interface PurgeFilter {
  /** Ended strictly before this instant (epoch ms). */
  before: number;
  /** Only runs of this workflow. */
  workflow?: string;
  /** Leave out runs of these workflows (they have retention periods of their own). */
  except?: string[];
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

/** The application_name of a batch's connection while its transaction is open (back to the pool's at its end). */
export const RETENTION_APPLICATION = "baton-retention";

/** The most one batch removes: runs, their tasks together (a run with more tasks goes alone), and their log lines. */
export interface BatchLimit {
  runs: number;
  tasks: number;
  logs: number;
}

/**
 * Removes one batch of ended runs. `keep` (an export) is given the runs' export text, one line per run, before their rows are
 * deleted, and its failure removes nothing. `more`: the batch stopped at its limit, so more ended runs may match.
 */
export async function removeEndedRuns(
  pool: pg.Pool,
  f: PurgeFilter,
  limit: BatchLimit,
  keep?: (lines: AsyncIterable<string>) => Promise<void>,
): Promise<{ runs: number; tasks: number; more: boolean }> {
  const params: unknown[] = [];
  const filter = where(f, params);
  params.push(limit.runs, limit.tasks);
  return transaction(pool, async (tx) => {
    // Nothing may wait long on this transaction: a lock it cannot get at once is an error, not a queue. Named while it is open
    // (pg_stat_activity, the server's open transactions): who holds a lock or waits is seen to be retention, not the engine.
    await tx.query(`SELECT set_config('lock_timeout', '2s', true), set_config('application_name', '${RETENTION_APPLICATION}', true)`);
    const picked = await tx.query<{ candidates: number; victims: string[]; sizes: number[] }>(
      // A run's tasks are taken as its sequence counter says (every task it made took a number; nothing is counted).
      `WITH candidates AS (
         SELECT r.id, r.ended_at, r.next_seq - 1 AS tasks FROM baton.runs r WHERE ${filter}
         ORDER BY r.ended_at LIMIT $${params.length - 1} FOR UPDATE SKIP LOCKED),
       sized AS (
         SELECT c.id, c.tasks, row_number() OVER w AS n, sum(c.tasks) OVER w AS upto FROM candidates c WINDOW w AS (ORDER BY c.ended_at, c.id)),
       chosen AS (SELECT * FROM sized WHERE n = 1 OR upto <= $${params.length})
       SELECT (SELECT count(*) FROM candidates)::int AS candidates,
              coalesce((SELECT array_agg(id ORDER BY n) FROM chosen), '{}') AS victims,
              coalesce((SELECT array_agg(tasks ORDER BY n) FROM chosen), '{}') AS sizes`,
      params,
    );
    const { candidates, victims, sizes } = picked.rows[0]!;
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
    // The runs are locked, so nothing changes their tasks between this read and the delete.
    if (keep) await keep(exportLines(tx, victims, sizes));
    const { rows } = await tx.query(
      // The runs and tasks are found by = ANY(the batch's runs), and the tasks' lines, loop entries and queue rows by = ANY(the
      // tasks' ids): an index probe per id. Joined to the deleted tasks, whose number the planner can't know, a table could be
      // read whole (a batch of 20 runs of 3 tasks read all 100,000 loop entries of 200 other tasks along their primary key).
      `WITH tasks_gone AS (DELETE FROM baton.tasks t WHERE t.run_id = ANY($1::uuid[]) RETURNING t.id),
       gone_ids AS (SELECT array_agg(id) AS ids FROM tasks_gone),
       logs_gone AS (DELETE FROM baton.task_logs l WHERE l.task_id = ANY((SELECT ids FROM gone_ids)::uuid[]) RETURNING 1),
       iterations_gone AS (DELETE FROM baton.loop_iterations i WHERE i.task_id = ANY((SELECT ids FROM gone_ids)::uuid[]) RETURNING 1),
       queue_gone AS (DELETE FROM baton.queue q WHERE q.task_id = ANY((SELECT ids FROM gone_ids)::uuid[]) RETURNING 1),
       runs_gone AS (DELETE FROM baton.runs r WHERE r.id = ANY($1::uuid[]) RETURNING 1),
       trees_gone AS (DELETE FROM baton.run_trees t WHERE t.root_id = ANY($1::uuid[]) RETURNING 1)
       SELECT (SELECT count(*) FROM runs_gone)::int AS run_count,
              (SELECT count(*) FROM tasks_gone)::int AS task_count,
              (SELECT count(*) FROM logs_gone)::int AS log_count,
              (SELECT count(*) FROM queue_gone)::int AS queue_count`,
      [victims],
    );
    const row = rows[0] as { run_count: number; task_count: number };
    return { runs: row.run_count, tasks: row.task_count, more: candidates === limit.runs || row.run_count < candidates };
  });
}

/** Tasks read at a time for an export (as their runs' counters say). */
const EXPORT_PAGE = 500;

/** A task as the export writes it: as to_jsonb gives it, a loop's output whole (with its iteration entries). */
const EXPORTED_TASK = `CASE WHEN g.type = 'DO_WHILE' THEN (to_jsonb(g) || jsonb_build_object('output', ${taskOutputSql("g")}))::text
  ELSE row_to_json(g)::text END`;

/**
 * The runs' export, one JSON line per run, in the batch's order (oldest first): stringifyJson({ ...run, tasks }), the run's row
 * as stored and its tasks in order, written in parts. Runs are read together up to EXPORT_PAGE tasks, a larger run's tasks
 * EXPORT_PAGE numbers of seq at a time, and each part is put in order here: PostgreSQL sorts nothing and nothing is held
 * whole. Aggregated in one statement, the export of a run of 50,000 tasks (75 MB) was sorted on disk (225 MB of temporary
 * files) and parsed and written whole, holding the event loop 2.1-5.2 s and 445 MB of heap (now no file, 0.1-0.2 s, 63-74 MB).
 */
async function* exportLines(tx: Tx, victims: string[], sizes: number[]): AsyncGenerator<string> {
  let together: string[] = [];
  let tasks = 0;
  for (const run of [...victims.map((id, i) => ({ id, tasks: sizes[i]! })), undefined]) {
    if (together.length > 0 && (!run || tasks + run.tasks > EXPORT_PAGE)) {
      yield await smallRuns(tx, together);
      together = [];
      tasks = 0;
    }
    if (!run) break;
    if (run.tasks > EXPORT_PAGE) yield* largeRun(tx, run);
    else {
      together.push(run.id);
      tasks += run.tasks;
    }
  }
}

/** The lines of runs with few tasks, read together. */
async function smallRuns(tx: Tx, ids: string[]): Promise<string> {
  const runs = await tx.query<{ id: string; run: string }>("SELECT r.id, row_to_json(r)::text AS run FROM baton.runs r WHERE r.id = ANY($1::uuid[])", [ids]);
  const tasks = await tx.query<ExportedTask & { run_id: string }>(
    `SELECT g.run_id, g.id, g.seq, ${EXPORTED_TASK} AS task FROM baton.tasks g WHERE g.run_id = ANY($1::uuid[])`,
    [ids],
  );
  const byRun = new Map<string, ExportedTask[]>(ids.map((id) => [id, []]));
  for (const t of tasks.rows) byRun.get(t.run_id)!.push(t);
  const stored = new Map(runs.rows.map((r) => [r.id, r.run]));
  return ids.map((id) => `${lineHead(stored.get(id)!)}${tasksText(byRun.get(id)!)}]}\n`).join("");
}

/** A run's line in parts, its tasks read a window of seq numbers at a time (the last window open above: every task is read). */
async function* largeRun(tx: Tx, run: { id: string; tasks: number }): AsyncGenerator<string> {
  const { rows } = await tx.query<{ run: string }>("SELECT row_to_json(r)::text AS run FROM baton.runs r WHERE r.id = $1", [run.id]);
  yield lineHead(rows[0]!.run);
  let wrote = false;
  for (let from = 0; from < run.tasks; from += EXPORT_PAGE) {
    const params: unknown[] = [run.id];
    let window = "";
    if (from > 0) window += ` AND g.seq > $${params.push(from)}`;
    if (from + EXPORT_PAGE < run.tasks) window += ` AND g.seq <= $${params.push(from + EXPORT_PAGE)}`;
    const page = await tx.query<ExportedTask>(`SELECT g.id, g.seq, ${EXPORTED_TASK} AS task FROM baton.tasks g WHERE g.run_id = $1${window}`, params);
    if (page.rows.length === 0) continue;
    yield (wrote ? "," : "") + tasksText(page.rows);
    wrote = true;
  }
  yield "]}\n";
}

interface ExportedTask {
  id: string;
  seq: number;
  task: string;
}

/** A run's stored fields, the line opened for its tasks. */
function lineHead(run: string): string {
  return `${stringifyJson(parseJson(run)).slice(0, -1)},"tasks":[`;
}

/** Tasks in their run's order (by seq, then id), each as to_jsonb gives it, in our codec (integers beyond 2^53 exact). */
function tasksText(tasks: ExportedTask[]): string {
  tasks.sort((a, b) => a.seq - b.seq || (a.id < b.id ? -1 : 1));
  return tasks.map((t) => stringifyJson(inJsonbOrder(parseJson(t.task) as Record<string, unknown>))).join(",");
}

/**
 * An object's fields in the order jsonb keeps keys (shorter first, then by their bytes; column names are ASCII): a task is read
 * by row_to_json, which costs PostgreSQL less than to_jsonb (2.9 against 3.9-5.1 s for 50,000 tasks), and written as to_jsonb's.
 */
function inJsonbOrder(o: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(o).sort((a, b) => a.length - b.length || (a < b ? -1 : a > b ? 1 : 0))) out[key] = o[key];
  return out;
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

export const RETENTION_MIGRATION = {
  name: "ended runs are found by their end time",
  sql: `
    -- Retention removes runs by end time, oldest first. Runs not ended
    -- (ended_at = 0) are not in the index: a run's row is indexed once, when
    -- it ends (when its status, already indexed, changes too).
    CREATE INDEX runs_ended ON baton.runs (ended_at) WHERE ended_at > 0;
  `,
};
