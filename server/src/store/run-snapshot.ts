// What a run tree (the run and its sub-workflow runs) is waiting for, in one
// statement: each run's wake time and workflow deadline, its queued and its
// running tasks, and the outbox. What a test driver needs to skip time
// (@baton/testing): the wire has no call for "when is this run next due".
// It follows the decider's rule that a run's wake_at is the earliest of its
// timers and its workflow timeout (leases are not in it: the sweeper finds
// them by baton.tasks.lease_expires_at).
import type { Queryable } from "./db.js";

export interface RunRow {
  id: string;
  status: string;
  /** Epoch ms of the run's next timer (0: none). */
  wakeAt: number;
  /** Epoch ms at which the workflow times out (TIME_OUT_WF), 0 when it never does. */
  deadline: number;
}

export interface QueueRow {
  taskId: string;
  taskType: string;
  visibleAt: number;
}

export interface RunningTask {
  id: string;
  runId: string;
  ref: string;
  type: string;
  defName: string;
  /** A timed WAIT's due time. */
  waitUntil: number | null;
  /** When its lease (a worker's, an HTTP call's) runs out; 0 when it has none. Not part of the run's wake_at. */
  leaseExpiresAt: number;
}

export interface RunTreeSnapshot {
  runs: RunRow[];
  queue: QueueRow[];
  running: RunningTask[];
  /** Cross-run effects not yet carried out (any run). */
  outbox: number;
}

const SNAPSHOT = `
  WITH RECURSIVE tree(id) AS (
    SELECT $1::uuid
    UNION
    SELECT r.id FROM baton.runs r JOIN tree ON r.parent_run_id = tree.id::text
  )
  SELECT
    (SELECT coalesce(json_agg(json_build_object(
        'id', r.id, 'status', r.status, 'wakeAt', r.wake_at,
        'deadline', CASE WHEN d.body->>'timeoutPolicy' = 'TIME_OUT_WF' AND coalesce((d.body->>'timeoutSeconds')::float8, 0) > 0
                         THEN r.created_at + (d.body->>'timeoutSeconds')::float8 * 1000 ELSE 0 END)), '[]'::json)
       FROM baton.runs r JOIN baton.defs d ON d.hash = r.def_hash WHERE r.id IN (SELECT id FROM tree)) AS runs,
    (SELECT coalesce(json_agg(json_build_object('taskId', q.task_id, 'taskType', q.task_type, 'visibleAt', q.visible_at)), '[]'::json)
       FROM baton.queue q WHERE q.run_id IN (SELECT id FROM tree)) AS queue,
    (SELECT coalesce(json_agg(json_build_object(
        'id', t.id, 'runId', t.run_id, 'ref', t.ref, 'type', t.type, 'defName', t.def_name, 'leaseExpiresAt', t.lease_expires_at,
        'waitUntil', CASE WHEN jsonb_typeof(t.extra->'waitUntil') = 'number' THEN (t.extra->>'waitUntil')::float8 END) ORDER BY t.seq), '[]'::json)
       FROM baton.tasks t WHERE t.run_id IN (SELECT id FROM tree) AND t.status = 'IN_PROGRESS') AS running,
    (SELECT count(*)::int FROM baton.outbox) AS outbox`;

/** The tree rooted at `runId`, as it is now. */
export async function runTreeSnapshot(q: Queryable, runId: string): Promise<RunTreeSnapshot> {
  const { rows } = await q.query(SNAPSHOT, [runId]);
  const row = rows[0] as { runs: RunRow[]; queue: QueueRow[]; running: RunningTask[]; outbox: number };
  const num = (v: unknown) => Number(v ?? 0);
  return {
    runs: row.runs.map((r) => ({ ...r, wakeAt: num(r.wakeAt), deadline: num(r.deadline) })),
    queue: row.queue.map((q) => ({ ...q, visibleAt: num(q.visibleAt) })),
    running: row.running.map((t) => ({ ...t, waitUntil: t.waitUntil === null ? null : num(t.waitUntil), leaseExpiresAt: num(t.leaseExpiresAt) })),
    outbox: row.outbox,
  };
}
