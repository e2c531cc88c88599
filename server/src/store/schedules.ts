// Schedules in PostgreSQL: one row per schedule, holding its JSON and when it
// is next due. Any replica takes due rows with FOR UPDATE SKIP LOCKED, fires
// them, and moves them on in the same transaction.
import { stringifyJson } from "@baton/protocol";
import type { WorkflowSchedule } from "@baton/sdk";
import type pg from "pg";
import { transaction, type Queryable, type Tx } from "./db.js";
import { measuredRows, type Measured } from "./measured-rows.js";

export interface ScheduleRow {
  name: string;
  workflowName: string;
  body: WorkflowSchedule;
  paused: boolean;
  /** The next fire time (epoch ms); 0 when none (past its end). */
  nextFireAt: number;
  /** When the sweeper must look at the row next; 0 while paused or done. */
  dueAt: number;
  bufferedFireAt: number;
  lastFireAt: number;
  lastRunId: string;
  skippedFires: number;
  createdAt: number;
  updatedAt: number;
}

/** What firing changes on a row. */
export type ScheduleProgress = Pick<ScheduleRow, "nextFireAt" | "dueAt" | "bufferedFireAt" | "lastFireAt" | "lastRunId" | "skippedFires">;

/** A schedule as created: no fire yet. */
export type NewSchedule = Omit<ScheduleRow, "bufferedFireAt" | "lastFireAt" | "lastRunId" | "skippedFires">;

/** What an operator's change makes of a locked row: the fields to write, or undefined for no change. */
export type ScheduleChange = (row: ScheduleRow) => Partial<ScheduleRow> | undefined;

/** Fires one due schedule inside the sweep's transaction `tx`; returns its new progress. */
export type ScheduleFire = (row: ScheduleRow, tx: Tx) => Promise<ScheduleProgress>;
/** When a schedule whose firing failed is looked at again (epoch ms); throwing abandons the whole pass instead. */
export type ScheduleFailed = (row: ScheduleRow, error: unknown) => number;

function toRow(r: Record<string, unknown>): ScheduleRow {
  return {
    name: r["name"] as string,
    workflowName: r["workflow_name"] as string,
    body: r["body"] as WorkflowSchedule,
    paused: r["paused"] as boolean,
    nextFireAt: r["next_fire_at"] as number,
    dueAt: r["due_at"] as number,
    bufferedFireAt: r["buffered_fire_at"] as number,
    lastFireAt: r["last_fire_at"] as number,
    lastRunId: r["last_run_id"] as string,
    skippedFires: r["skipped_fires"] as number,
    createdAt: r["created_at"] as number,
    updatedAt: r["updated_at"] as number,
  };
}

/** A schedule's row; `q`: the transaction it is read in, or the pool. */
export async function schedule(q: Queryable, name: string): Promise<ScheduleRow | undefined> {
  const { rows } = await q.query("SELECT * FROM baton.schedules WHERE name = $1", [name]);
  return rows[0] ? toRow(rows[0]) : undefined;
}

/** A page of schedules (of one workflow when `workflowName` is not empty), by name: `limit` of them from after `after`. */
export async function listSchedules(q: Queryable, workflowName: string, page: { after?: string; limit: number }, room: number): Promise<Measured<ScheduleRow>> {
  const sql = "SELECT * FROM baton.schedules WHERE ($1 = '' OR workflow_name = $1) AND ($2::text IS NULL OR name > $2) ORDER BY name LIMIT $3";
  return measuredRows(q, { sql, params: [workflowName, page.after ?? null, page.limit], bytes: "octet_length(p.body::text)", orderBy: "name" }, room, toRow);
}

/** Inserts a schedule; false when the name is taken. */
export async function insertSchedule(q: Queryable, row: NewSchedule): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO baton.schedules (name, workflow_name, body, paused, next_fire_at, due_at, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $7) ON CONFLICT (name) DO NOTHING`,
    [row.name, row.workflowName, stringifyJson(row.body), row.paused, row.nextFireAt, row.dueAt, row.createdAt],
  );
  return (rowCount ?? 0) > 0;
}

/** Runs `fn` on a schedule's row, locked; its result is written back. Undefined when there is no such schedule. */
export async function changeSchedule(pool: pg.Pool, name: string, fn: ScheduleChange, now: number): Promise<ScheduleRow | undefined> {
  return transaction(pool, async (tx) => {
    const { rows } = await tx.query("SELECT * FROM baton.schedules WHERE name = $1 FOR UPDATE", [name]);
    if (!rows[0]) return undefined;
    const row = toRow(rows[0]);
    const patch = fn(row);
    if (!patch) return row;
    const next = { ...row, ...patch, updatedAt: now };
    await tx.query(
      `UPDATE baton.schedules SET workflow_name = $2, body = $3, paused = $4, next_fire_at = $5, due_at = $6,
         buffered_fire_at = $7, last_fire_at = $8, last_run_id = $9, skipped_fires = $10, updated_at = $11 WHERE name = $1`,
      [
        name,
        next.workflowName,
        stringifyJson(next.body),
        next.paused,
        next.nextFireAt,
        next.dueAt,
        next.bufferedFireAt,
        next.lastFireAt,
        next.lastRunId,
        next.skippedFires,
        now,
      ],
    );
    return next;
  });
}

export async function deleteSchedule(q: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await q.query("DELETE FROM baton.schedules WHERE name = $1", [name]);
  return (rowCount ?? 0) > 0;
}

/**
 * Takes up to `limit` due schedules, locked (others' locked rows skipped),
 * hands them to `fire` one by one, and writes each one's progress; all in
 * one transaction, so a crash before commit leaves them due for another
 * replica (which starts the same runs again: their idempotency keys make
 * that a no-op). A schedule whose firing fails is undone to its savepoint and
 * put off to the time `failed` gives, so it cannot hold back the others.
 */
export async function fireDueSchedules(pool: pg.Pool, now: number, limit: number, fire: ScheduleFire, failed: ScheduleFailed): Promise<number> {
  // Nothing due (the usual case): one indexed probe, no transaction.
  const probe = await pool.query({
    name: "baton-schedules-due",
    text: "SELECT 1 FROM baton.schedules WHERE due_at > 0 AND due_at <= $1 LIMIT 1",
    values: [now],
  });
  if (probe.rows.length === 0) return 0;
  return transaction(pool, async (tx) => {
    const { rows } = await tx.query("SELECT * FROM baton.schedules WHERE due_at > 0 AND due_at <= $1 ORDER BY due_at LIMIT $2 FOR UPDATE SKIP LOCKED", [
      now,
      limit,
    ]);
    for (const raw of rows) {
      const row = toRow(raw);
      await tx.query("SAVEPOINT schedule_fire");
      try {
        const p = await fire(row, tx);
        await tx.query(
          `UPDATE baton.schedules SET next_fire_at = $2, due_at = $3, buffered_fire_at = $4, last_fire_at = $5, last_run_id = $6, skipped_fires = $7
           WHERE name = $1`,
          [row.name, p.nextFireAt, p.dueAt, p.bufferedFireAt, p.lastFireAt, p.lastRunId, p.skippedFires],
        );
      } catch (error) {
        await tx.query("ROLLBACK TO SAVEPOINT schedule_fire");
        await tx.query("UPDATE baton.schedules SET due_at = $2 WHERE name = $1", [row.name, failed(row, error)]);
      }
    }
    return rows.length;
  });
}

export const SCHEDULES_MIGRATION = {
  name: "schedules",
  sql: `
    -- One row per schedule. due_at is when a sweeper must look at it next (the
    -- next fire time plus its jitter, or now while a buffered fire waits);
    -- 0 while paused or past its end, so the due index holds only live rows.
    CREATE TABLE baton.schedules (
      name text PRIMARY KEY,
      workflow_name text NOT NULL,
      body jsonb NOT NULL,
      paused boolean NOT NULL DEFAULT false,
      next_fire_at bigint NOT NULL DEFAULT 0,
      due_at bigint NOT NULL DEFAULT 0,
      buffered_fire_at bigint NOT NULL DEFAULT 0,
      last_fire_at bigint NOT NULL DEFAULT 0,
      last_run_id text NOT NULL DEFAULT '',
      skipped_fires bigint NOT NULL DEFAULT 0,
      created_at bigint NOT NULL,
      updated_at bigint NOT NULL
    );
    CREATE INDEX schedules_due ON baton.schedules (due_at) WHERE due_at > 0;
    CREATE INDEX schedules_workflow ON baton.schedules (workflow_name);
  `,
};
