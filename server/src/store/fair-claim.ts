// Fair claims: queue rows of runs whose workflow names a fairness key carry
// it (queue.fair_key). A task type with such rows is claimed round-robin
// across keys: the keys waiting are enumerated by a skip scan of an index
// (one probe per key, a window of 64 keys per claim, moving on from
// claim to claim), each key's tasks in priority then age order, and the
// claim takes the first of every key, then the second, and so on. A type
// with no keyed rows is claimed exactly as before (see `Store.claim`).
import type { Queryable } from "./db.js";

/** Keys looked at per claim; the next claim starts after the last one. */
const KEY_WINDOW = 64;
/** How long "this type has (no) keyed rows" is trusted. */
const KEYED_TTL_MS = 2000;

export class FairClaims {
  private readonly keyed = new Map<string, { keyed: boolean; until: number }>();
  private readonly cursors = new Map<string, string>();

  /** This replica queued a keyed row of `taskType`: claim it fairly from now on. */
  noteKeyed(taskType: string): void {
    this.keyed.set(taskType, { keyed: true, until: Date.now() + KEYED_TTL_MS });
  }

  /** Whether `taskType` has keyed rows waiting (one index probe, at most every 2 s per type). */
  async isKeyed(q: Queryable, taskType: string): Promise<boolean> {
    const known = this.keyed.get(taskType);
    if (known && known.until > Date.now()) return known.keyed;
    const { rows } = await q.query({
      name: "baton-fair-probe",
      text: "SELECT 1 FROM baton.queue WHERE task_type = $1 AND fair_key > '' LIMIT 1",
      values: [taskType],
    });
    const keyed = rows.length > 0;
    this.keyed.set(taskType, { keyed, until: Date.now() + KEYED_TTL_MS });
    return keyed;
  }

  /**
   * The statement that picks up to `count` queue rows of a keyed type, round
   * robin across a window of keys (and the unkeyed rows, as one more key).
   * Its parameters: $1 type, $2 now, $3 count, $cursor, $salt; returns the
   * `picked` CTE text to put in front of the claim's UPDATE.
   */
  pickStatement(cursorParam: string, saltParam: string): string {
    return `k AS (
        (SELECT fair_key FROM baton.queue WHERE task_type = $1 AND fair_key > ${cursorParam} ORDER BY fair_key LIMIT 1)
        UNION ALL
        SELECT (SELECT q.fair_key FROM baton.queue q WHERE q.task_type = $1 AND q.fair_key > k.fair_key ORDER BY q.fair_key LIMIT 1)
        FROM k WHERE k.fair_key IS NOT NULL),
      keys AS ((SELECT fair_key FROM k WHERE fair_key IS NOT NULL LIMIT ${KEY_WINDOW}) UNION ALL SELECT ''),
      cand AS (
        SELECT c.task_id, keys.fair_key,
               row_number() OVER (PARTITION BY keys.fair_key ORDER BY c.priority DESC, c.visible_at, c.seq) AS rn,
               hashtext(keys.fair_key || ${saltParam}) AS spin
        FROM keys CROSS JOIN LATERAL (
          SELECT q.task_id, q.priority, q.visible_at, q.seq FROM baton.queue q
          WHERE q.task_type = $1 AND q.fair_key = keys.fair_key AND q.visible_at <= $2
          ORDER BY q.priority DESC, q.visible_at, q.seq LIMIT $3) c),
      picked AS (
        DELETE FROM baton.queue WHERE task_id IN (
          SELECT task_id FROM baton.queue WHERE task_id IN (SELECT task_id FROM cand ORDER BY rn, spin LIMIT $3)
          FOR UPDATE SKIP LOCKED)
        RETURNING task_id),
      window_end AS (SELECT max(fair_key) AS last, count(*) AS n FROM keys WHERE fair_key <> '')`;
  }

  cursor(taskType: string): string {
    return this.cursors.get(taskType) ?? "";
  }

  /** After a claim: the next one starts after this window, or from the first key when the window reached the end. */
  advance(taskType: string, last: string | null, windowKeys: number): void {
    if (last && windowKeys >= KEY_WINDOW) this.cursors.set(taskType, last);
    else this.cursors.delete(taskType);
  }
}

export const FAIR_CLAIM_MIGRATION = {
  name: "queue rows carry their run's fairness key",
  sql: `
    -- '' for runs of workflows that name no fairnessKey. The index serves
    -- fair claims: a skip scan over the keys of a type, then each key's rows
    -- (the unkeyed ones too, as the key ''), in claim order.
    ALTER TABLE baton.queue ADD COLUMN fair_key text NOT NULL DEFAULT '';
    CREATE INDEX queue_fair ON baton.queue (task_type, fair_key, priority DESC, visible_at, seq);
  `,
};
