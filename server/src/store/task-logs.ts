// Log lines workers attach to a task.
import type { Queryable } from "./db.js";

export interface TaskLogLine {
  message: string;
  createdAt: number;
}

export async function addTaskLog(q: Queryable, taskId: string, message: string, now: number): Promise<void> {
  await q.query("INSERT INTO baton.task_logs (task_id, created_at, message) VALUES ($1, $2, $3)", [taskId, now, message]);
}

export async function taskLogs(q: Queryable, taskId: string): Promise<TaskLogLine[]> {
  const { rows } = await q.query("SELECT message, created_at FROM baton.task_logs WHERE task_id = $1 ORDER BY created_at", [taskId]);
  return rows.map((r) => ({ message: r.message, createdAt: r.created_at }));
}
