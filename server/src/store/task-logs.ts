// Log lines workers attach to a task, read a page at a time.
import type pg from "pg";
import { transaction, type Queryable } from "./db.js";

export interface TaskLogLine {
  message: string;
  createdAt: number;
}

/** A task's lines in the order they were written, so that a page can say where the next begins. */
export const TASK_LOG_ORDER_MIGRATION = {
  name: "task log lines are numbered in the order they were written",
  sql: `
    ALTER TABLE baton.task_logs ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
    DROP INDEX baton.task_logs_task;
    CREATE INDEX task_logs_task ON baton.task_logs (task_id, seq);
  `,
};

/** What one task's log keeps, at most. */
export interface TaskLogCap {
  lines: number;
  bytes: number;
}

/**
 * Appends `messages` to a task's log, in order, as long as the log stays
 * within `cap` (lines, and bytes of messages): the lines past that are not
 * stored. Returns how many were. Writers to one task's log take turns (a lock
 * on the task's log for the transaction), so each counts what the one before
 * it committed and the cap is exact; before, writers racing could each see
 * room for the same lines and together pass it.
 */
export async function addTaskLogs(pool: pg.Pool, taskId: string, messages: string[], now: number, cap: TaskLogCap): Promise<number> {
  if (messages.length === 0) return 0;
  return transaction(pool, async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext('baton.task_logs'), hashtext($1))", [taskId]);
    // A statement after the lock: its snapshot holds every line committed before the lock was granted.
    // Sizes are read from each stored value's header (octet_length does not read the text).
    const { rowCount } = await tx.query(
      `WITH held AS (SELECT count(*) AS n, coalesce(sum(octet_length(message)), 0) AS bytes FROM baton.task_logs WHERE task_id = $1),
         adding AS (SELECT m, i, sum(octet_length(m)) OVER (ORDER BY i) AS upto FROM unnest($3::text[]) WITH ORDINALITY AS u(m, i))
       INSERT INTO baton.task_logs (task_id, created_at, message)
       SELECT $1, $2, m FROM adding, held WHERE i <= $4 - held.n AND held.bytes + upto <= $5
       ORDER BY i`,
      [taskId, now, messages, cap.lines, cap.bytes],
    );
    return rowCount ?? 0;
  });
}

export interface TaskLogPage {
  lines: TaskLogLine[];
  /** Where the next page starts (the last line's number), when more lines follow. */
  after: number | undefined;
}

/**
 * Up to `limit` lines after line number `after`, oldest first, stopping once
 * the page holds `maxBytes` of messages (at least one line): a page's size is
 * bounded whatever the lines' count and length.
 */
export async function taskLogPage(q: Queryable, taskId: string, after: number, limit: number, maxBytes: number): Promise<TaskLogPage> {
  // Sizes first (read from the stored value's header, not the text), messages only for the lines that fit.
  const { rows } = await q.query<{ seq: string; created_at: string; message: string | null }>(
    `WITH page AS (
       SELECT seq, created_at,
              coalesce(sum(octet_length(message)) OVER (ORDER BY seq ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before
       FROM baton.task_logs WHERE task_id = $1 AND seq > $2 ORDER BY seq LIMIT $3 + 1)
     SELECT p.seq, p.created_at, CASE WHEN p.before < $4 THEN l.message END AS message
     FROM page p JOIN baton.task_logs l ON l.task_id = $1 AND l.seq = p.seq ORDER BY p.seq`,
    [taskId, after, limit, maxBytes],
  );
  const kept = rows.slice(0, limit).filter((r) => r.message !== null);
  const last = kept[kept.length - 1];
  return {
    lines: kept.map((r) => ({ message: r.message!, createdAt: Number(r.created_at) })),
    after: rows.length > kept.length && last ? Number(last.seq) : undefined,
  };
}
