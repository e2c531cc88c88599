// Effects on other runs, written in the deciding transaction (see
// write-batch.ts) and carried out after commit by whoever takes them.
import type { JsonObject } from "../decider/model.js";
import type { Queryable } from "./db.js";

export interface OutboxItem {
  id: number;
  kind: string;
  payload: JsonObject;
}

/**
 * Takes one outbox item (the given one, or the oldest due) for `leaseMs`:
 * no other replica takes it meanwhile. No connection is held while the
 * effect is carried out; `finishOutbox` deletes it afterwards.
 */
export async function takeOutbox(q: Queryable, now: number, leaseMs: number, id?: number, kind?: string): Promise<OutboxItem | undefined> {
  // An item given by id is the caller's own (it wrote it and holds it); any other must be free (and of `kind`, when given).
  const which = id !== undefined ? "id = $3" : kind !== undefined ? "taken_until <= $1 AND kind = $3" : "taken_until <= $1";
  const { rows } = await q.query(
    `UPDATE baton.outbox SET taken_until = $1 + $2::bigint WHERE id = (
       SELECT id FROM baton.outbox WHERE ${which}
       ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
     RETURNING id, kind, payload`,
    id !== undefined ? [now, leaseMs, id] : kind !== undefined ? [now, leaseMs, kind] : [now, leaseMs],
  );
  return rows[0] as OutboxItem | undefined;
}

/** Takes the given outbox items (the caller's own: it wrote them) for `leaseMs`, in one statement; those gone or taken meanwhile are left out. */
export async function takeOutboxItems(q: Queryable, now: number, leaseMs: number, ids: number[]): Promise<OutboxItem[]> {
  const { rows } = await q.query(
    `UPDATE baton.outbox SET taken_until = $1 + $2::bigint WHERE id = ANY(
       SELECT id FROM baton.outbox WHERE id = ANY($3::bigint[]) FOR UPDATE SKIP LOCKED)
     RETURNING id, kind, payload`,
    [now, leaseMs, ids],
  );
  return (rows as OutboxItem[]).map((row) => ({ ...row, id: Number(row.id) })).sort((a, b) => a.id - b.id);
}

export async function finishOutbox(q: Queryable, ids: number[]): Promise<void> {
  if (ids.length === 0) return;
  await q.query("DELETE FROM baton.outbox WHERE id = ANY($1::bigint[])", [ids]);
}

export const OUTBOX_WRITER_MIGRATION = {
  name: "an outbox item names the run whose decision wrote it",
  sql: `
    -- Whoever waits on that run's event waits for the item too, and no one
    -- else does (runtime/after-commit.ts). NULL: written by no run's
    -- decision (an admission), or by an earlier version.
    ALTER TABLE baton.outbox ADD COLUMN run_id uuid;
  `,
};
