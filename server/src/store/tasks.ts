// Single tasks: which run and which type a task id belongs to, and removing tasks.
import type pg from "pg";
import { isUuid } from "../rules/ids.js";
import type { RunState, TaskState } from "../decider/model.js";
import type { Queryable } from "./db.js";
import { taskColumns } from "./loop-iterations.js";
import { rowToRun, rowToTask } from "./rows.js";

/** The run a task belongs to; undefined when there is no such task. */
export async function runIdOfTask(q: Queryable, taskId: string): Promise<string | undefined> {
  if (!isUuid(taskId)) return undefined;
  const { rows } = await q.query("SELECT run_id FROM baton.tasks WHERE id = $1", [taskId]);
  return (rows[0] as { run_id: string } | undefined)?.run_id;
}

/** A task's type (its definition name); undefined when there is no such task. */
export async function taskTypeOf(q: Queryable, taskId: string): Promise<string | undefined> {
  if (!isUuid(taskId)) return undefined;
  const { rows } = await q.query("SELECT def_name FROM baton.tasks WHERE id = $1", [taskId]);
  return (rows[0] as { def_name: string } | undefined)?.def_name;
}

/** One task of a run, with the run (a panel's details without the run's other tasks). */
export async function runTask(q: Queryable, runId: string, taskId: string): Promise<{ run: RunState; task: TaskState } | undefined> {
  const { rows: tasks } = await q.query(`SELECT ${taskColumns("t")} FROM baton.tasks t WHERE t.id = $1 AND t.run_id = $2`, [taskId, runId]);
  if (!tasks[0]) return undefined;
  const { rows: runs } = await q.query("SELECT * FROM baton.runs WHERE id = $1", [runId]);
  return runs[0] ? { run: rowToRun(runs[0]), task: rowToTask(tasks[0]) } : undefined;
}

/** Removes tasks, their queue rows and loop entries (inside the transaction of the batch that removes them). */
export async function deleteTasks(tx: pg.ClientBase, ids: string[]): Promise<void> {
  if (ids.length === 0) return;
  await tx.query("DELETE FROM baton.queue WHERE task_id = ANY($1::uuid[])", [ids]);
  await tx.query("DELETE FROM baton.loop_iterations WHERE task_id = ANY($1::uuid[])", [ids]);
  await tx.query("DELETE FROM baton.tasks WHERE id = ANY($1::uuid[])", [ids]);
}
