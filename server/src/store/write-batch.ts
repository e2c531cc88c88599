// Writing everything a batch of events decided, as one statement.
import { stringifyJson } from "@baton/json";
import { Slices } from "@baton/protocol";
import pg from "pg";
import type { JsonObject, RunState, TaskState } from "../decider/model.js";
import type { Queryable } from "./db.js";
import { iterationWrites, loopColumn } from "./loop-iterations.js";
import { notifySql } from "./notifications.js";
import { forgetTexts } from "../payload-text.js";
import { rowsJson } from "./rows-json.js";
import { runRows, taskRows, updateRow, type Row } from "./rows.js";
import { deleteTasks } from "./tasks.js";

export interface QueueEntry {
  taskId: string;
  taskType: string;
  runId: string;
  priority: number;
  visibleAt: number;
  /** The run's fairness key ("" or absent: none), and its weight (absent: 1). */
  fairKey?: string;
  fairWeight?: number;
}

export interface OutboxEntry {
  kind: string;
  payload: unknown;
  /** The run whose decision wrote it: its callers wait for the item, no other run's do. */
  runId: string;
}

/** An outbox item written, its kind, and the run that wrote it. */
export interface OutboxWritten {
  id: number;
  runId: string;
  kind: string;
}

/** Everything a batch of events writes, in one round trip. */
export interface BatchWrite {
  /** New states of runs the batch decided, with the revision each was decided from. */
  runs: { run: RunState; rev: number }[];
  /** Runs the batch starts (ON CONFLICT DO NOTHING: see `insertedRuns`). */
  newRuns: RunState[];
  removed: string[];
  inserts: TaskState[];
  updates: TaskState[];
  dequeue: string[];
  enqueue: QueueEntry[];
  outbox: OutboxEntry[];
  /** The writer carries its outbox items out itself after commit: other replicas leave them alone until then. */
  outboxHeldUntil: number;
  /**
   * `root`: the tree of the run whose EVENT task published it: runs its handlers start join that tree (run-trees.ts);
   * `fairKey`, `fairWeight`: that run's fairness key ("" for none) and weight, which those runs take (fairness/key.ts).
   */
  events: { sink: string; name: string; payload: JsonObject; root: string; fairKey: string; fairWeight: number }[];
  now: number;
  notifyTaskTypes: string[];
  notifyRunsEnded: string[];
}

export interface BatchWritten {
  outbox: OutboxWritten[];
  insertedRuns: Set<string>;
}

/**
 * Writes a batch's changes as a single statement (data-modifying CTEs), so
 * a batch costs one round trip to write whatever it changed. Updates are
 * optimistic: a run or task whose revision moved since it was read (another
 * replica's event, a claim) fails the whole statement with a serialization
 * failure (40001), so the batch is decided again. That makes the statement
 * safe on its own, outside a transaction (`q` a pool), for runs decided
 * from memory. New runs whose id or idempotency key exists already are not
 * inserted: in a transaction the caller checks `insertedRuns` and rolls
 * back when one is missing; with `allRunsNew`, the statement fails instead.
 */
export async function writeBatch(q: Queryable, w: BatchWrite, options: { allRunsNew?: boolean }): Promise<BatchWritten> {
  if (w.removed.length > 0) {
    // Deleting takes statements of its own: only inside a transaction is the batch still one change.
    if (q instanceof pg.Pool) throw new Error("a batch that removes tasks must be written in a transaction");
    await deleteTasks(q, w.removed);
  }
  // Only the parts this batch has: the statement's cost grows with its parts, empty or not.
  // Each combination is its own prepared statement, named by the parts it has.
  const values: unknown[] = [];
  const param = (value: unknown) => `$${values.push(value)}`;
  let name = "baton-write-";
  const parts: string[] = [];
  const notices: string[] = [];
  const conflicts: string[] = [];
  const outputs: string[] = [];
  /** Payloads written as the text they came in (../payload-text.ts), whose text is then dropped. */
  const spent = new Set<object>();
  const slices = new Slices();
  if (w.newRuns.length > 0) {
    const rows = await rowsJson(w.newRuns, runRows.toRow, spent, slices);
    name += "r";
    parts.push(`run_inserted AS (
      INSERT INTO baton.runs (${runRows.names.join(", ")})
      SELECT ${runRows.names.join(", ")} FROM jsonb_to_recordset(${param(rows)}::jsonb) AS r(${runRows.recordset})
      ON CONFLICT DO NOTHING RETURNING id)`);
    outputs.push(`(SELECT coalesce(array_agg(id), '{}') FROM run_inserted) AS runs_inserted`);
    if (options.allRunsNew) {
      name += "!";
      conflicts.push(`(SELECT count(*) FROM run_inserted) <> ${param(w.newRuns.length)} THEN baton.write_conflict('a run exists already')`);
    }
  }
  if (w.runs.length > 0) {
    name += "u";
    const rows = await rowsJson(w.runs, ({ run, rev }) => Object.assign(updateRow(runRows, run), { read_rev: rev }), spent, slices);
    const sets = runRows.names.filter((c) => c !== "id").map(keepUnsent);
    // The ids again as an array: the planner then finds the rows by index
    // whatever it guesses about the size of the JSON record set.
    parts.push(`run_updated AS (
      UPDATE baton.runs t SET ${sets.join(", ")}, rev = t.rev + 1
      FROM jsonb_to_recordset(${param(rows)}::jsonb) AS r(${runRows.recordset}, read_rev bigint)
      WHERE t.id = r.id AND t.id = ANY(${param(w.runs.map(({ run }) => run.id))}::uuid[]) AND t.rev = r.read_rev RETURNING 1)`);
    conflicts.push(`(SELECT count(*) FROM run_updated) <> ${param(w.runs.length)} THEN baton.write_conflict('a run changed since it was read')`);
  }
  if (w.inserts.length > 0) {
    name += "i";
    const rows = await rowsJson(w.inserts, (task) => taskRow(task, taskRows.toRow(task)), spent, slices);
    parts.push(`inserted AS (
      INSERT INTO baton.tasks (${taskRows.names.join(", ")})
      SELECT ${taskRows.names.join(", ")} FROM jsonb_to_recordset(${param(rows)}::jsonb) AS r(${taskRows.recordset}) RETURNING 1)`);
  }
  if (w.updates.length > 0) {
    name += "t";
    const sets = taskRows.names.filter((c) => c !== "id" && c !== "rev").map(keepUnsent);
    const rows = await rowsJson(w.updates, (task) => taskRow(task, updateRow(taskRows, task)), spent, slices);
    parts.push(`updated AS (
      UPDATE baton.tasks t SET ${sets.join(", ")}, rev = t.rev + 1
      FROM jsonb_to_recordset(${param(rows)}::jsonb) AS r(${taskRows.recordset})
      WHERE t.id = r.id AND t.id = ANY(${param(w.updates.map((t) => t.id))}::uuid[]) AND t.rev = r.rev RETURNING 1)`);
    conflicts.push(`(SELECT count(*) FROM updated) <> ${param(w.updates.length)} THEN baton.write_conflict('a task changed since it was read')`);
  }
  // A loop's iteration entries, apart from its row (store/loop-iterations.ts): what changed, or all of a loop written whole.
  // The entries set, removed and kept by a reset never overlap: no row is changed twice in the statement.
  const iterations = iterationWrites(w.inserts, w.updates);
  if (iterations.reset.length > 0) {
    name += "l";
    parts.push(`iterations_reset AS (
      DELETE FROM baton.loop_iterations i USING jsonb_to_recordset(${param(stringifyJson(iterations.reset))}::jsonb) AS r(task_id uuid, keep int[])
      WHERE i.task_id = r.task_id AND i.task_id = ANY(${param(iterations.reset.map((r) => r.task_id))}::uuid[]) AND i.iteration <> ALL(r.keep) RETURNING 1)`);
  }
  if (iterations.removed.length > 0) {
    name += "g";
    parts.push(`iterations_removed AS (
      DELETE FROM baton.loop_iterations i USING jsonb_to_recordset(${param(stringifyJson(iterations.removed))}::jsonb) AS r(task_id uuid, iteration int)
      WHERE i.task_id = r.task_id AND i.iteration = r.iteration RETURNING 1)`);
  }
  if (iterations.set.length > 0) {
    name += "s";
    parts.push(`iterations_set AS (
      INSERT INTO baton.loop_iterations (task_id, iteration, output)
      SELECT task_id, iteration, output FROM jsonb_to_recordset(${param(stringifyJson(iterations.set))}::jsonb) AS r(task_id uuid, iteration int, output jsonb)
      ON CONFLICT (task_id, iteration) DO UPDATE SET output = excluded.output RETURNING 1)`);
  }
  if (w.dequeue.length > 0) {
    name += "d";
    parts.push(`dequeued AS (DELETE FROM baton.queue WHERE task_id = ANY(${param(w.dequeue)}::uuid[]) RETURNING 1)`);
  }
  if (w.enqueue.length > 0) {
    name += "e";
    const rows = w.enqueue.map((e) => ({
      task_id: e.taskId,
      task_type: e.taskType,
      run_id: e.runId,
      priority: e.priority,
      visible_at: e.visibleAt,
      fair_key: e.fairKey ?? "",
      fair_weight: e.fairWeight ?? 1,
    }));
    parts.push(`enqueued AS (
      INSERT INTO baton.queue (task_id, task_type, run_id, priority, visible_at, fair_key, fair_weight)
      SELECT task_id, task_type, run_id, priority, visible_at, fair_key, fair_weight
      FROM jsonb_to_recordset(${param(stringifyJson(rows))}::jsonb) AS r(task_id uuid, task_type text, run_id uuid, priority int, visible_at bigint, fair_key text, fair_weight int)
      ON CONFLICT (task_id) DO UPDATE SET visible_at = excluded.visible_at RETURNING 1)`);
  }
  if (w.outbox.length > 0) {
    name += "o";
    parts.push(`outboxed AS (
      INSERT INTO baton.outbox (kind, payload, run_id, created_at, taken_until)
      SELECT kind, payload, run_id, ${param(w.now)}, ${param(w.outboxHeldUntil)}
      FROM jsonb_to_recordset(${param(stringifyJson(w.outbox.map((o) => ({ kind: o.kind, payload: o.payload, run_id: o.runId }))))}::jsonb) AS r(kind text, payload jsonb, run_id uuid) RETURNING id, run_id, kind)`);
    // Each id with its run and kind, in one aggregate: two would not be bound to list the rows in the same order.
    outputs.push(`(SELECT coalesce(json_agg(json_build_array(id, run_id, kind)), '[]') FROM outboxed) AS outbox`);
  }
  if (w.events.length > 0) {
    name += "p";
    parts.push(`published AS (
      INSERT INTO baton.events (sink, name, payload, root_id, fair_key, fair_weight, created_at)
      SELECT sink, name, payload, root, "fairKey", "fairWeight", ${param(w.now)}
      FROM jsonb_to_recordset(${param(stringifyJson(w.events))}::jsonb) AS r(sink text, name text, payload jsonb, root uuid, "fairKey" text, "fairWeight" int) RETURNING 1)`);
    notices.push(notifySql("eventPublished"));
  }
  if (w.notifyTaskTypes.length > 0) {
    name += "n";
    notices.push(notifySql("tasksReady", param(w.notifyTaskTypes.join("\n"))));
  }
  if (w.notifyRunsEnded.length > 0) {
    name += "x";
    notices.push(`${notifySql("runEnded", "id")} FROM unnest(${param(w.notifyRunsEnded)}::text[]) AS id`);
  }
  // A SELECT in a WITH runs only when read: the notices are counted.
  if (notices.length > 0) {
    parts.push(`notified AS (${notices.join(" UNION ALL ")})`);
    outputs.push(`(SELECT count(*) FROM notified) AS notified`);
  }
  if (parts.length === 0) return { outbox: [], insertedRuns: new Set() };
  if (conflicts.length > 0) outputs.push(`CASE ${conflicts.map((c) => `WHEN ${c}`).join(" ")} END AS conflict`);
  forgetTexts(spent);
  const { rows } = await q.query({ name, text: `WITH ${parts.join(",\n")}\nSELECT ${outputs.length > 0 ? outputs.join(", ") : "1"}`, values });
  const row = rows[0] as { runs_inserted?: string[]; outbox?: [number | string, string, string][] };
  return { outbox: (row.outbox ?? []).map(([id, runId, kind]) => ({ id: Number(id), runId, kind })), insertedRuns: new Set(row.runs_inserted ?? []) };
}

/** An update's SET for a column; a payload left out of the row (stored as it is, see updateRow) keeps its value. */
function keepUnsent(column: string): string {
  return column === "input" || column === "output" ? `${column} = coalesce(r.${column}, t.${column})` : `${column} = r.${column}`;
}

/** A task's row as written: a loop's output without its iteration entries, which are written apart. */
function taskRow(task: TaskState, row: Row): Row {
  if (task.type === "DO_WHILE") row["output"] = loopColumn(task);
  return row;
}
