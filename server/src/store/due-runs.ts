// What the timer sweep fires: runs whose wake time has come, and runs with a
// running task whose lease ran out (found through the lease index).
import type { Queryable } from "./db.js";

export async function dueRuns(q: Queryable, now: number, limit: number): Promise<string[]> {
  const { rows } = await q.query(
    `(SELECT id FROM baton.runs WHERE wake_at > 0 AND wake_at <= $1 ORDER BY wake_at LIMIT $2)
     UNION
     (SELECT run_id FROM baton.tasks WHERE status = 'IN_PROGRESS' AND lease_expires_at > 0 AND lease_expires_at <= $1
      ORDER BY lease_expires_at LIMIT $2)`,
    [now, limit],
  );
  return rows.map((r) => r.id as string);
}
