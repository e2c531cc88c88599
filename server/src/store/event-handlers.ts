// Conductor event handlers: rows keyed by name holding their JSON as registered.
import type { Queryable } from "./db.js";

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

/** Creates or replaces a handler; false when the stored JSON and owner were already the same. */
export async function putHandler(q: Queryable, h: StoredHandler, now: number): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO baton.event_handlers (name, event, active, body, owner_key, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $6, $5, $5)
     ON CONFLICT (name) DO UPDATE SET event = excluded.event, active = excluded.active, body = excluded.body, owner_key = excluded.owner_key, updated_at = excluded.updated_at
     WHERE baton.event_handlers.body IS DISTINCT FROM excluded.body OR baton.event_handlers.owner_key IS DISTINCT FROM excluded.owner_key`,
    [h.name, h.event, h.active, h.body, now, h.owner],
  );
  return (rowCount ?? 0) > 0;
}

export async function getHandler(q: Queryable, name: string): Promise<StoredHandler | undefined> {
  const { rows } = await q.query("SELECT name, event, active, body, owner_key AS owner FROM baton.event_handlers WHERE name = $1", [name]);
  return rows[0] as StoredHandler | undefined;
}

/** Handlers by name, of one event and/or only the active ones. */
export async function listHandlers(q: Queryable, filter: { event?: string; activeOnly?: boolean } = {}): Promise<StoredHandler[]> {
  const { rows } = await q.query(
    `SELECT name, event, active, body, owner_key AS owner FROM baton.event_handlers
     WHERE ($1::text IS NULL OR event = $1) AND (NOT $2 OR active) ORDER BY name`,
    [filter.event || null, filter.activeOnly ?? false],
  );
  return rows as StoredHandler[];
}

export async function deleteHandler(q: Queryable, name: string): Promise<boolean> {
  const { rowCount } = await q.query("DELETE FROM baton.event_handlers WHERE name = $1", [name]);
  return (rowCount ?? 0) > 0;
}
