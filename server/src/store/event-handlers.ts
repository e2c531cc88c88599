// Conductor event handlers: rows keyed by name holding their JSON as registered.
import type pg from "pg";
import { transaction, type Queryable } from "./db.js";
import { measuredRows, type Measured } from "./measured-rows.js";

export interface StoredHandler {
  name: string;
  event: string;
  active: boolean;
  /** The handler's JSON as registered. */
  body: string;
  /** Id of the API key that registered it (its actions act with that key's rights); "" when registered without keys. */
  owner: string;
}

/** Handlers act with the rights of the key that registered them, checked when each action runs. */
export const EVENT_HANDLER_OWNER_MIGRATION = {
  name: "event handlers remember the key that registered them",
  sql: `ALTER TABLE baton.event_handlers ADD COLUMN owner_key text NOT NULL DEFAULT '';`,
};

/** The most handlers (active or not) one event may have: each event runs its active ones, so this bounds one event's work. */
export const HANDLERS_PER_EVENT = 100;

/** Why a handler was not stored: its event has as many other handlers as it may. */
export class TooManyHandlers extends Error {
  constructor(
    readonly event: string,
    readonly max: number,
  ) {
    super(`event ${event} has ${max} handlers`);
  }
}

/**
 * Creates or replaces a handler; false when the stored JSON and owner were
 * already the same. Under a lock on its event, so two registrations cannot
 * both take its last free place; throws TooManyHandlers when `maxPerEvent`
 * other handlers listen to that event.
 */
export async function putHandler(pool: pg.Pool, h: StoredHandler, now: number, maxPerEvent: number): Promise<boolean> {
  return transaction(pool, async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`event:${h.event}`]);
    const { rows } = await tx.query<{ n: number }>(
      "SELECT count(*)::int AS n FROM (SELECT 1 FROM baton.event_handlers WHERE event = $1 AND name <> $2 LIMIT $3) others",
      [h.event, h.name, maxPerEvent],
    );
    if ((rows[0]?.n ?? 0) >= maxPerEvent) throw new TooManyHandlers(h.event, maxPerEvent);
    return writeHandler(tx, h, now);
  });
}

async function writeHandler(q: Queryable, h: StoredHandler, now: number): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO baton.event_handlers (name, event, active, body, owner_key, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $6, $5, $5)
     ON CONFLICT (name) DO UPDATE SET event = excluded.event, active = excluded.active, body = excluded.body, owner_key = excluded.owner_key, updated_at = excluded.updated_at
     WHERE baton.event_handlers.body IS DISTINCT FROM excluded.body OR baton.event_handlers.owner_key IS DISTINCT FROM excluded.owner_key`,
    [h.name, h.event, h.active, h.body, now, h.owner],
  );
  return (rowCount ?? 0) > 0;
}

/** A handler's columns as StoredHandler names them. */
const HANDLER_COLUMNS = "name, event, active, body, owner_key AS owner";

export async function getHandler(q: Queryable, name: string): Promise<StoredHandler | undefined> {
  const { rows } = await q.query(`SELECT ${HANDLER_COLUMNS} FROM baton.event_handlers WHERE name = $1`, [name]);
  return rows[0] as StoredHandler | undefined;
}

/** Which handlers a list reads: of one event and/or only the active ones, `limit` of them by name from after `after`. */
export interface HandlerFilter {
  event?: string;
  activeOnly?: boolean;
  after?: string;
  limit: number;
}

/** What events are handled by: each name's active handlers, at most `limit` of them by name, for all the names in one statement. */
export async function activeHandlers(q: Queryable, events: string[], limit: number): Promise<Map<string, StoredHandler[]>> {
  const { rows } = await q.query(
    `SELECT ${HANDLER_COLUMNS} FROM unnest($1::text[]) AS e(wanted),
       LATERAL (SELECT * FROM baton.event_handlers WHERE event = e.wanted AND active ORDER BY name LIMIT $2) h
     ORDER BY event, name`,
    [[...new Set(events)], limit],
  );
  const byEvent = new Map<string, StoredHandler[]>(events.map((e) => [e, []]));
  for (const row of rows as StoredHandler[]) byEvent.get(row.event)!.push(row);
  return byEvent;
}

/** A page of handlers by name, those that start within `room` bytes (measured-rows.ts). */
export async function listHandlers(q: Queryable, filter: HandlerFilter, room: number): Promise<Measured<StoredHandler>> {
  const sql = `SELECT ${HANDLER_COLUMNS} FROM baton.event_handlers
     WHERE ($1::text IS NULL OR event = $1) AND (NOT $2 OR active) AND ($3::text IS NULL OR name > $3) ORDER BY name LIMIT $4`;
  const params = [filter.event || null, filter.activeOnly ?? false, filter.after ?? null, filter.limit];
  return measuredRows(q, { sql, params, bytes: "octet_length(p.body)", orderBy: "name" }, room, (r) => ({
    name: r["name"] as string,
    event: r["event"] as string,
    active: r["active"] as boolean,
    body: r["body"] as string,
    owner: r["owner"] as string,
  }));
}

export async function deleteHandler(q: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await q.query("DELETE FROM baton.event_handlers WHERE name = $1", [name]);
  return (rowCount ?? 0) > 0;
}
