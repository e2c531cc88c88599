// Baton's event bus: events are rows any replica takes with a lease
// (FOR UPDATE SKIP LOCKED) and deletes once handled. EVENT tasks put theirs
// on it in the deciding statement (write-batch.ts), PublishEvent here. They
// are taken in turn by publisher (the key that published them; "" for EVENT
// tasks and callers without keys), oldest first within each: taken oldest
// first overall, one key's 20,000 events made another key's event wait 55 s.
import type { Queryable } from "./db.js";
import { notifySql } from "./notifications.js";

/** One event taken off the bus. */
export interface TakenEvent {
  id: number;
  /** The event's name when it was given (PublishEvent); null when it follows from `sink`. */
  name: string | null;
  /** The EVENT task's sink ("conductor", "sqs:queue", ...), or the name for a published event. */
  sink: string;
  /** The payload as JSON text (big integers kept exact). */
  payload: string;
  createdAt: number;
  /** How many times the event has been taken, this time included. */
  attempts: number;
  /** The run tree whose EVENT task published it (null: published by a caller, or by an earlier version). */
  root: string | null;
}

export const EVENT_PUBLISHER_MIGRATION = {
  name: "events remember the key that published them, and are taken in turn by it",
  sql: `
    ALTER TABLE baton.events ADD COLUMN publisher text NOT NULL DEFAULT '';
    CREATE INDEX events_publisher ON baton.events (publisher, id);
  `,
};

/** At most this many publishers' events are taken together (the first in the order of their keys' ids). */
const PUBLISHERS_PER_TAKE = 256;

/** Stores an event and wakes every replica's consumer, in one statement. `publisher`: the key's id ("" without one). */
export async function publishEvent(
  q: Queryable,
  name: string,
  payloadJson: string,
  now: number,
  publisher: string,
): Promise<{ id: number; activeHandlers: number }> {
  const { rows } = await q.query(
    `WITH inserted AS (
       INSERT INTO baton.events (name, sink, payload, created_at, publisher) VALUES ($1, $1, $2::jsonb, $3, $4) RETURNING id),
     notified AS (${notifySql("eventPublished")} FROM inserted)
     SELECT (SELECT id FROM inserted) AS id,
            (SELECT count(*) FROM notified)::int AS notified,
            (SELECT count(*) FROM baton.event_handlers WHERE event = $1 AND active)::int AS handlers`,
    [name, payloadJson, now, publisher],
  );
  const row = rows[0] as { id: string; handlers: number };
  return { id: Number(row.id), activeHandlers: row.handlers };
}

/**
 * Takes up to `limit` events no other process holds, making them invisible
 * until `now + leaseMs`: each publisher's oldest first, then each one's
 * second, and so on (publishers found by a skip scan of their index).
 */
export async function takeEvents(q: Queryable, now: number, leaseMs: number, limit: number): Promise<TakenEvent[]> {
  const { rows } = await q.query(
    `WITH RECURSIVE publishers(publisher, n) AS (
       (SELECT publisher, 1 FROM baton.events WHERE taken_until <= $1 ORDER BY publisher LIMIT 1)
       UNION ALL
       SELECT next.publisher, p.n + 1 FROM publishers p,
         LATERAL (SELECT publisher FROM baton.events WHERE publisher > p.publisher AND taken_until <= $1 ORDER BY publisher LIMIT 1) next
       WHERE p.n < ${PUBLISHERS_PER_TAKE}
     ),
     due AS (
       SELECT d.id FROM publishers p,
         LATERAL (SELECT id, row_number() OVER (ORDER BY id) AS turn FROM
           (SELECT id FROM baton.events WHERE publisher = p.publisher AND taken_until <= $1 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) mine) d
       ORDER BY d.turn, d.id LIMIT $3
     )
     UPDATE baton.events e SET taken_until = $1 + $2::bigint, attempts = e.attempts + 1
     FROM due WHERE e.id = due.id
     RETURNING e.id, e.name, e.sink, e.payload::text AS payload, e.created_at, e.attempts, e.root_id`,
    [now, leaseMs, limit],
  );
  return rows
    .map((r) => ({
      id: Number(r.id),
      name: r.name,
      sink: r.sink,
      payload: r.payload,
      createdAt: Number(r.created_at),
      attempts: r.attempts,
      root: r.root_id,
    }))
    .sort((a, b) => a.id - b.id);
}

/** An event handled (or given up on): it is gone. */
export async function finishEvent(q: Queryable, id: number): Promise<void> {
  await q.query("DELETE FROM baton.events WHERE id = $1", [id]);
}
