// One task by id: its run and its current lease. What an API that names tasks
// by id alone (Conductor's REST API) needs to find the run and fence an update.
import type { Queryable } from "./db.js";

export interface TaskLease {
  runId: string;
  /** The task type workers poll (the definition name). */
  defName: string;
  status: string;
  leaseToken: string;
  workerId: string;
  /** How many times the task was handed out (both doors, every replica). */
  pollCount: number;
}

export async function taskLease(db: Queryable, taskId: string): Promise<TaskLease | undefined> {
  const { rows } = await db.query<{ run_id: string; def_name: string; status: string; lease_token: string; worker_id: string; poll_count: number }>(
    "SELECT run_id, def_name, status, lease_token, worker_id, poll_count FROM baton.tasks WHERE id = $1",
    [taskId],
  );
  const row = rows[0];
  return (
    row && { runId: row.run_id, defName: row.def_name, status: row.status, leaseToken: row.lease_token, workerId: row.worker_id, pollCount: row.poll_count }
  );
}
