// Baton's event bus: events are rows any replica takes with a lease
// (FOR UPDATE SKIP LOCKED) and deletes once handled. EVENT tasks put theirs
// on it in the deciding statement (write-batch.ts), PublishEvent here. They
// are taken in turn by publisher (the key that published them; "" for EVENT
// tasks and callers without keys), oldest first within each: taken oldest
// first overall, one key's 20,000 events made another key's event wait 55 s.
// A publisher may leave at most so many published events waiting: rows per
// publisher count them, raised by the publishing statement and lowered by the
// one that deletes them, so a publish never counts the table. The count is
// spread over COUNT_SHARDS rows per publisher, each holding its share of the
// bound: on one row, each of a key's publishes held it through its commit,
// and 32 at once waited for each other (9.7 ms a statement on the loaded
// machine). A publish takes a place in a row with room, under that row's
// lock, so the check and the count are one step and publishes at the same
// instant cannot pass the bound together.
import type pg from "pg";
import { transaction, type Queryable } from "./db.js";
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
  /** The key that published it ("" for EVENT tasks and callers without keys). */
  publisher: string;
  /** The row of its publisher's count it counts in (uncounted EVENT tasks' events have one too, unused). */
  shard: number;
  /** The fairness key and weight of the run whose EVENT task published it (absent: none, or published by a caller). */
  fairShare?: { key: string; weight: number };
}

export const EVENT_PUBLISHER_MIGRATION = {
  name: "events remember the key that published them, and are taken in turn by it",
  sql: `
    ALTER TABLE baton.events ADD COLUMN publisher text NOT NULL DEFAULT '';
    CREATE INDEX events_publisher ON baton.events (publisher, id);
  `,
};

export const EVENTS_WAITING_MIGRATION = {
  name: "each publisher's waiting events are counted, so a publish can be refused past a bound without counting the table",
  sql: `
    -- waiting: the publisher's events published by callers (root_id IS NULL; EVENT tasks'
    -- events are bounded by their runs) not yet handled. Raised by publishEvent, lowered by finishEvents.
    CREATE TABLE baton.event_publishers (
      publisher text PRIMARY KEY,
      waiting int NOT NULL
    );
    INSERT INTO baton.event_publishers (publisher, waiting)
      SELECT publisher, count(*) FROM baton.events WHERE root_id IS NULL GROUP BY publisher;
  `,
};

export const EVENTS_WAITING_SHARDS_MIGRATION = {
  name: "each publisher's waiting events are counted over several rows, so its publishes do not queue on one",
  sql: `
    -- An event counts in the row of its publisher and id % 16 (COUNT_SHARDS).
    DROP TABLE baton.event_publishers;
    CREATE TABLE baton.event_publishers (
      publisher text NOT NULL,
      shard int NOT NULL,
      waiting int NOT NULL,
      PRIMARY KEY (publisher, shard)
    );
    INSERT INTO baton.event_publishers (publisher, shard, waiting)
      SELECT publisher, (id % 16)::int, count(*) FROM baton.events WHERE root_id IS NULL GROUP BY 1, 2;
  `,
};

export const EVENT_FAIR_KEY_MIGRATION = {
  name: "events remember the fairness key of the run whose EVENT task published them, for the runs their handlers start",
  sql: `
    ALTER TABLE baton.events ADD COLUMN fair_key text NOT NULL DEFAULT '';
    ALTER TABLE baton.events ADD COLUMN fair_weight int NOT NULL DEFAULT 1;
  `,
};

export const EVENT_COUNT_SHARD_MIGRATION = {
  name: "a published event remembers the row of its publisher's count it took a place in",
  sql: `
    -- NULL: counted in the row of its id % 16, as events published before were.
    ALTER TABLE baton.events ADD COLUMN count_shard int;
  `,
  olderReplicasStop:
    "an earlier server lowers a handled event's count in the row of its id's remainder, not the row it took a place in, and its publishers' counts would drift",
};

/** Rows each publisher's count is spread over (the migration's 16). */
const COUNT_SHARDS = 16;

/** The row an event counts in: the one it took a place in, or (published before rows had shares of the bound) its id's remainder. */
const SHARD_OF = `coalesce(count_shard, (id % ${COUNT_SHARDS})::int)`;

/** Why an event was not stored: its publisher has as many events waiting as it may. */
export class TooManyEventsWaiting extends Error {
  constructor(readonly max: number) {
    super(`the publisher has ${max} events waiting`);
  }
}

/** At most this many publishers' events are taken together (the first in the order of their keys' ids). */
const PUBLISHERS_PER_TAKE = 256;

/**
 * Takes a place in a row of the publisher's count with room for it ($5 the
 * bound, each row holding its share: 16 rows of a bound of 20 hold 2, 2, 2, 2,
 * 1, ...), stores the event there and wakes every replica's consumer, in one
 * statement. The row is locked before it is counted. `skip`: a row another
 * publish holds is passed over (no wait while a row with room is free); else
 * a publish waiting for another's row sees that one's count once it commits,
 * and moves on to the next row with room if it has none left. $6: the row to
 * try first (spreads a key's publishes over its rows).
 */
const publishSql = (skip: boolean) => `WITH place AS (
     SELECT shard FROM baton.event_publishers
     WHERE publisher = $4 AND waiting < $5::int / ${COUNT_SHARDS} + CASE WHEN shard < $5::int % ${COUNT_SHARDS} THEN 1 ELSE 0 END
     ORDER BY (shard + ${COUNT_SHARDS} - $6::int) % ${COUNT_SHARDS} LIMIT 1 FOR UPDATE${skip ? " SKIP LOCKED" : ""}),
   counted AS (
     UPDATE baton.event_publishers c SET waiting = c.waiting + 1 FROM place WHERE c.publisher = $4 AND c.shard = place.shard RETURNING c.shard),
   inserted AS (
     INSERT INTO baton.events (name, sink, payload, created_at, publisher, count_shard)
     SELECT $1, $1, $2::jsonb, $3, $4, shard FROM counted RETURNING id),
   notified AS (${notifySql("eventPublished")} FROM inserted)
   SELECT (SELECT id FROM inserted) AS id,
          (SELECT count(*) FROM notified)::int AS notified,
          (SELECT count(*) FROM baton.event_publishers WHERE publisher = $4)::int AS rows,
          (SELECT count(*) FROM baton.event_handlers WHERE event = $1 AND active)::int AS handlers`;

/**
 * Stores an event and wakes every replica's consumer. `publisher`: the key's
 * id ("" without one). Throws TooManyEventsWaiting, storing nothing, when the
 * publisher has `maxWaiting` events not yet handled: never more, however many
 * of its publishes come at once.
 */
export async function publishEvent(
  q: Queryable,
  name: string,
  payloadJson: string,
  now: number,
  publisher: string,
  maxWaiting: number,
): Promise<{ id: number; activeHandlers: number }> {
  const params = [name, payloadJson, now, publisher, maxWaiting, Math.floor(Math.random() * COUNT_SHARDS)];
  const publish = async (skip: boolean) => (await q.query(publishSql(skip), params)).rows[0] as { id: string | null; rows: number; handlers: number };
  let row = await publish(true);
  if (row.id === null && row.rows < COUNT_SHARDS) {
    // A publisher's first event (or one counted before each had all its rows): its rows are made, empty, once.
    await q.query(
      `INSERT INTO baton.event_publishers (publisher, shard, waiting) SELECT $1, s, 0 FROM generate_series(0, ${COUNT_SHARDS - 1}) s
       ON CONFLICT (publisher, shard) DO NOTHING`,
      [publisher],
    );
    row = await publish(true);
  }
  // Every row with room held by other publishes (or none with room as this one saw them): wait for them, and see.
  if (row.id === null) row = await publish(false);
  if (row.id === null) throw new TooManyEventsWaiting(maxWaiting);
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
     RETURNING e.id, e.name, e.sink, e.payload::text AS payload, e.created_at, e.attempts, e.root_id, e.publisher, e.fair_key, e.fair_weight,
       coalesce(e.count_shard, (e.id % ${COUNT_SHARDS})::int) AS shard`,
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
      publisher: r.publisher,
      shard: r.shard,
      ...(r.fair_key ? { fairShare: { key: r.fair_key as string, weight: r.fair_weight as number } } : {}),
    }))
    .sort((a, b) => a.id - b.id);
}

/**
 * Events handled (or given up on): they are gone, and their publishers' counts
 * lowered. Events counted in several rows lock the rows in order first, so two
 * replicas finishing events of the same publishers cannot deadlock.
 */
export async function finishEvents(pool: pg.Pool, events: Pick<TakenEvent, "id" | "publisher" | "shard">[]): Promise<void> {
  if (events.length === 0) return;
  const finish = `WITH gone AS (DELETE FROM baton.events WHERE id = ANY($1::bigint[]) RETURNING publisher, root_id, ${SHARD_OF} AS shard),
     counted AS (SELECT publisher, shard, count(*)::int AS n FROM gone WHERE root_id IS NULL GROUP BY 1, 2)
     UPDATE baton.event_publishers c SET waiting = greatest(c.waiting - counted.n, 0) FROM counted
     WHERE c.publisher = counted.publisher AND c.shard = counted.shard`;
  const ids = events.map((e) => e.id);
  const rows = new Map(events.map((e) => [`${e.shard} ${e.publisher}`, { publisher: e.publisher, shard: e.shard }]));
  if (rows.size === 1) {
    await pool.query(finish, [ids]);
    return;
  }
  await transaction(pool, async (tx) => {
    await tx.query(
      `SELECT 1 FROM baton.event_publishers WHERE (publisher, shard) IN (SELECT * FROM unnest($1::text[], $2::int[]))
       ORDER BY publisher, shard FOR UPDATE`,
      [[...rows.values()].map((r) => r.publisher), [...rows.values()].map((r) => r.shard)],
    );
    await tx.query(finish, [ids]);
  });
}

/**
 * Of the events whose actions a run's marks record as applied to it
 * (RunMarks.eventActions), those no longer on the bus: handled or given up
 * on, never to be taken again (ids are not reused), so their records may go.
 */
export async function finishedEventsOf(q: Queryable, runId: string): Promise<number[]> {
  const { rows } = await q.query(
    `SELECT DISTINCT (a->>'event')::bigint AS id FROM baton.runs r, jsonb_array_elements(r.extra->'eventActions') a
     WHERE r.id = $1 AND NOT EXISTS (SELECT 1 FROM baton.events e WHERE e.id = (a->>'event')::bigint)`,
    [runId],
  );
  return rows.map((r) => Number(r.id));
}
