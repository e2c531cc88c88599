// Runs and tasks as rows: each column once, with its SQL type and the field
// it holds, and the mapping both ways read from that one table.
import type { RunState, TaskState } from "../decider/model.js";
import { isStored } from "./stored-payloads.js";

interface Column<S> {
  column: string;
  sqlType: string;
  field: keyof S;
  /** Field value -> column value, when they differ (default: as is). */
  toColumn?(value: unknown): unknown;
  /** Column value -> field value, when they differ. */
  toField?(value: unknown): unknown;
  /** A field left out of the state (not set to undefined) when its column is NULL. */
  optional?: boolean;
}

const col = <S>(column: string, sqlType: string, field: keyof S, extra: Partial<Column<S>> = {}): Column<S> => ({ column, sqlType, field, ...extra });

const TASK: Column<TaskState>[] = [
  col("id", "uuid", "id"),
  col("run_id", "uuid", "runId"),
  col("seq", "int", "seq"),
  col("ref", "text", "ref"),
  col("type", "text", "type"),
  col("def_name", "text", "defName"),
  col("status", "text", "status"),
  col("iteration", "int", "iteration"),
  col("input", "jsonb", "input"),
  col("output", "jsonb", "output"),
  col("reason", "text", "reason"),
  col("retry_count", "int", "retryCount"),
  col("retried_task_id", "text", "retriedTaskId"),
  col("retried", "boolean", "retried"),
  col("executed", "boolean", "handled"),
  col("poll_count", "int", "pollCount"),
  col("worker_id", "text", "workerId"),
  col("lease_token", "text", "leaseToken"),
  col("lease_expires_at", "bigint", "leaseExpiresAt"),
  col("scheduled_at", "bigint", "scheduledAt"),
  col("started_at", "bigint", "startedAt"),
  col("ended_at", "bigint", "endedAt"),
  col("updated_at", "bigint", "updatedAt"),
  col("visible_at", "bigint", "visibleAt"),
  col("callback_after_seconds", "int", "callbackAfterSeconds"),
  col("response_timeout_seconds", "int", "responseTimeoutSeconds"),
  col("timeout_seconds", "int", "timeoutSeconds"),
  col("sub_workflow_id", "text", "subWorkflowId"),
  col("rev", "int", "rev"),
  col("extra", "jsonb", "marks"),
];

const RUN: Column<RunState>[] = [
  col("id", "uuid", "id"),
  col("name", "text", "name"),
  col("version", "int", "version"),
  col("def_hash", "text", "defHash"),
  col("status", "text", "status"),
  col("correlation_id", "text", "correlationId"),
  // No key is NULL in the table (the unique index skips NULLs), "" in memory.
  col("idempotency_key", "text", "idempotencyKey", { toColumn: (v) => v || null, toField: (v) => v ?? "" }),
  col("priority", "int", "priority"),
  col("input", "jsonb", "input"),
  col("output", "jsonb", "output"),
  col("variables", "jsonb", "variables"),
  col("reason", "text", "reason"),
  col("failed_refs", "text[]", "failedRefs"),
  col("failed_task_id", "text", "failedTaskId"),
  col("parent_run_id", "text", "parentRunId"),
  col("parent_task_id", "text", "parentTaskId"),
  col("created_at", "bigint", "createdAt"),
  col("updated_at", "bigint", "updatedAt"),
  col("ended_at", "bigint", "endedAt"),
  col("wake_at", "bigint", "wakeAt"),
  col("next_seq", "int", "nextSeq"),
  col("extra", "jsonb", "marks"),
  // The route that chose the run's version (none for a start that named one).
  col("route", "jsonb", "route", { toColumn: (v) => v ?? null, optional: true }),
];

export type Row = Record<string, unknown>;

function mapper<S>(columns: Column<S>[]) {
  return {
    /** Column names, in table order. */
    names: columns.map((c) => c.column),
    /** "name type, ..." for jsonb_to_recordset(...) AS r(...). */
    recordset: columns.map((c) => `${c.column} ${c.sqlType}`).join(", "),
    toRow(state: S): Row {
      const row: Row = {};
      for (const c of columns) row[c.column] = c.toColumn ? c.toColumn(state[c.field]) : state[c.field];
      return row;
    },
    fromRow(row: Row): S {
      const state: Partial<Record<keyof S, unknown>> = {};
      for (const c of columns) {
        const value = row[c.column];
        if (c.optional && (value === null || value === undefined)) continue;
        state[c.field] = c.toField ? c.toField(value) : value;
      }
      return state as S;
    },
  };
}

export const taskRows = mapper(TASK);
export const runRows = mapper(RUN);

export const rowToTask = (row: Row): TaskState => taskRows.fromRow(row);
export const rowToRun = (row: Row): RunState => runRows.fromRow(row);

/**
 * A task or run row for an update: a payload stored as it is left out (NULL:
 * the statement keeps the column's value). Left undefined, which its JSON
 * omits, not deleted: an object with a key deleted becomes a slow dictionary,
 * which took twice as long to copy and write out, once per run and task a
 * batch updates.
 */
export function updateRow<S extends TaskState | RunState>(mapper: { toRow(state: S): Row }, state: S): Row {
  const row = mapper.toRow(state);
  for (const payload of ["input", "output"] as const) if (isStored(state, payload)) row[payload] = undefined;
  return row;
}
