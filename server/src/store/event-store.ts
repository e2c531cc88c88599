// Event handlers and the event bus in PostgreSQL: handlers are rows keyed by
// name holding their JSON as registered; events are rows any replica takes
// with a lease (FOR UPDATE SKIP LOCKED) and deletes once handled.
import type pg from "pg";

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
}

export interface StoredHandler {
  name: string;
  event: string;
  active: boolean;
  /** The handler's JSON as registered. */
  body: string;
}

export class EventStore {
  constructor(readonly pool: pg.Pool) {}

  // ---- handlers -----------------------------------------------------------

  /** Creates or replaces a handler; false when the stored JSON was already the same. */
  async putHandler(h: StoredHandler, now: number): Promise<boolean> {
    const { rowCount } = await this.pool.query(
      `INSERT INTO baton.event_handlers (name, event, active, body, created_at, updated_at)
       VALUES ($1, $2, $3, $4, $5, $5)
       ON CONFLICT (name) DO UPDATE SET event = excluded.event, active = excluded.active, body = excluded.body, updated_at = excluded.updated_at
       WHERE baton.event_handlers.body IS DISTINCT FROM excluded.body`,
      [h.name, h.event, h.active, h.body, now],
    );
    return (rowCount ?? 0) > 0;
  }

  async getHandler(name: string): Promise<StoredHandler | undefined> {
    const { rows } = await this.pool.query("SELECT name, event, active, body FROM baton.event_handlers WHERE name = $1", [name]);
    return rows[0] as StoredHandler | undefined;
  }

  async listHandlers(filter: { event?: string; activeOnly?: boolean } = {}): Promise<StoredHandler[]> {
    const { rows } = await this.pool.query(
      `SELECT name, event, active, body FROM baton.event_handlers
       WHERE ($1::text IS NULL OR event = $1) AND (NOT $2 OR active) ORDER BY name`,
      [filter.event || null, filter.activeOnly ?? false],
    );
    return rows as StoredHandler[];
  }

  /** The active handlers listening to `event`, by name. */
  async activeHandlers(event: string): Promise<StoredHandler[]> {
    return this.listHandlers({ event, activeOnly: true });
  }

  async deleteHandler(name: string): Promise<boolean> {
    const { rowCount } = await this.pool.query("DELETE FROM baton.event_handlers WHERE name = $1", [name]);
    return (rowCount ?? 0) > 0;
  }

  // ---- events -------------------------------------------------------------

  /** Stores an event and wakes every replica's consumer, in one statement. */
  async publish(name: string, payloadJson: string, now: number): Promise<{ id: number; activeHandlers: number }> {
    const { rows } = await this.pool.query(
      `WITH inserted AS (
         INSERT INTO baton.events (name, sink, payload, created_at) VALUES ($1, $1, $2::jsonb, $3) RETURNING id),
       notified AS (SELECT pg_notify('baton_events', '') FROM inserted)
       SELECT (SELECT id FROM inserted) AS id,
              (SELECT count(*) FROM notified)::int AS notified,
              (SELECT count(*) FROM baton.event_handlers WHERE event = $1 AND active)::int AS handlers`,
      [name, payloadJson, now],
    );
    const row = rows[0] as { id: string; handlers: number };
    return { id: Number(row.id), activeHandlers: row.handlers };
  }

  /**
   * Takes up to `limit` events no other process holds, oldest first, making
   * them invisible until `now + leaseMs`.
   */
  async take(now: number, leaseMs: number, limit: number): Promise<TakenEvent[]> {
    const { rows } = await this.pool.query(
      `UPDATE baton.events e SET taken_until = $1 + $2::bigint, attempts = e.attempts + 1
       FROM (SELECT id FROM baton.events WHERE taken_until <= $1 ORDER BY id LIMIT $3 FOR UPDATE SKIP LOCKED) due
       WHERE e.id = due.id
       RETURNING e.id, e.name, e.sink, e.payload::text AS payload, e.created_at, e.attempts`,
      [now, leaseMs, limit],
    );
    return rows
      .map((r) => ({ id: Number(r.id), name: r.name, sink: r.sink, payload: r.payload, createdAt: Number(r.created_at), attempts: r.attempts }))
      .sort((a, b) => a.id - b.id);
  }

  /** An event handled (or given up on): it is gone. */
  async finish(id: number): Promise<void> {
    await this.pool.query("DELETE FROM baton.events WHERE id = $1", [id]);
  }

  /** The run a task belongs to. */
  async runIdOfTask(taskId: string): Promise<string | undefined> {
    const { rows } = await this.pool.query("SELECT run_id FROM baton.tasks WHERE id = $1", [taskId]);
    return (rows[0] as { run_id: string } | undefined)?.run_id;
  }

  /** Events not yet handled (for tests and operators). */
  async pending(): Promise<number> {
    const { rows } = await this.pool.query("SELECT count(*)::int AS n FROM baton.events");
    return (rows[0] as { n: number }).n;
  }
}
