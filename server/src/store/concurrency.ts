// Per-key limits of running runs (a workflow's rateLimitConfig): the count of
// each key's running runs is a row in PostgreSQL, changed only under that
// row's lock, so any number of replicas keep it exact. A start takes a slot
// in its own transaction (see `takeSlot`); a run that ends gives its slot
// back in the statement that ends it (a trigger on baton.runs, so every path
// that ends a run does, from memory or not), and the oldest waiting run of
// the key is admitted then: its slot moves to running and an outbox item
// ('admitRun') has any replica start it.
import type { Queryable } from "./db.js";

export type Strategy = "QUEUE" | "CANCEL_NEWEST" | "CANCEL_OLDEST";

export type SlotOutcome =
  /** The run holds a slot: it starts now. */
  | { kind: "run"; cancelled: string[] }
  /** Over the limit with QUEUE: the run waits for a slot. */
  | { kind: "queued"; running: number }
  /** Over the limit with CANCEL_NEWEST: the run must not start. */
  | { kind: "refused"; running: number };

/**
 * Takes a slot of `key` for a run starting in transaction `tx` (rolled back
 * with it). With CANCEL_OLDEST the oldest running runs of the key give up
 * theirs; their ids come back in `cancelled`, to be terminated.
 */
export async function takeSlot(tx: Queryable, workflow: string, key: string, limit: number, strategy: Strategy, runId: string): Promise<SlotOutcome> {
  const { rows } = await tx.query({
    name: "baton-concurrency-take",
    text: "SELECT outcome, running, cancelled FROM baton.concurrency_take($1, $2, $3, $4, $5)",
    values: [workflow, key, limit, strategy, runId],
  });
  const row = rows[0] as { outcome: string; running: number; cancelled: string[] | null };
  if (row.outcome === "queued") return { kind: "queued", running: row.running };
  if (row.outcome === "refused") return { kind: "refused", running: row.running };
  return { kind: "run", cancelled: row.cancelled ?? [] };
}

/**
 * A workflow's limit changed (a new version registered): every key takes it
 * now, and as many waiting runs as it leaves room for are admitted in this
 * transaction (undefined: no limit, every waiting run is). Returns how many
 * were admitted; their 'admitRun' items start them.
 */
export async function setLimit(tx: Queryable, workflow: string, limit: number | undefined): Promise<number> {
  const { rows } = await tx.query({
    name: "baton-concurrency-set-limit",
    text: "SELECT baton.concurrency_set_limit($1, $2) AS admitted",
    values: [workflow, limit ?? null],
  });
  return Number(rows[0]?.admitted ?? 0);
}

/**
 * Removes up to `limit` key rows that count no running run and have none waiting: a key's row would otherwise stay
 * for ever, one per value a key ever took (a key per order: a row per run, past the run's own removal). A start of
 * the key makes its row again, with its workflow's limit. A row another transaction holds is passed over; one that
 * took a run meanwhile is seen running when locked, and stays. Returns how many went.
 */
export async function removeIdleKeys(q: Queryable, limit: number): Promise<number> {
  const { rowCount } = await q.query({
    name: "baton-concurrency-remove-idle",
    text: `DELETE FROM baton.concurrency_keys c
           USING (SELECT workflow, key FROM baton.concurrency_keys WHERE running = 0 LIMIT $1 FOR UPDATE SKIP LOCKED) idle
           WHERE c.workflow = idle.workflow AND c.key = idle.key AND c.running = 0
             AND NOT EXISTS (SELECT 1 FROM baton.concurrency_slots s WHERE s.workflow = c.workflow AND s.key = c.key)`,
    values: [limit],
  });
  return rowCount ?? 0;
}

export const CONCURRENCY_LIMIT_MIGRATION = {
  name: "a workflow's new limit of running runs applies to runs already waiting",
  sql: `
    -- Keys without waiting runs take the new limit at their next start.
    CREATE FUNCTION baton.concurrency_set_limit(w text, lim int) RETURNS int LANGUAGE plpgsql AS $fn$
    DECLARE
      k text;
      admitted int := 0;
    BEGIN
      FOR k IN SELECT DISTINCT s.key FROM baton.concurrency_slots s WHERE s.workflow = w AND s.waiting ORDER BY 1 LOOP
        UPDATE baton.concurrency_keys SET max_running = coalesce(lim, 2147483647) WHERE workflow = w AND key = k;
        admitted := admitted + baton.concurrency_admit(w, k);
      END LOOP;
      RETURN admitted;
    END $fn$;
  `,
};

export const CONCURRENCY_LIMIT_ALL_KEYS_MIGRATION = {
  name: "a workflow's new limit of running runs applies to every key at once",
  sql: `
    -- Idle keys too, not at their next start: what a key's row says is the
    -- limit in force. Rows are locked in key order, as before.
    CREATE OR REPLACE FUNCTION baton.concurrency_set_limit(w text, lim int) RETURNS int LANGUAGE plpgsql AS $fn$
    DECLARE
      k text;
      admitted int := 0;
    BEGIN
      PERFORM 1 FROM baton.concurrency_keys WHERE workflow = w ORDER BY key FOR UPDATE;
      UPDATE baton.concurrency_keys SET max_running = coalesce(lim, 2147483647) WHERE workflow = w;
      FOR k IN SELECT DISTINCT s.key FROM baton.concurrency_slots s WHERE s.workflow = w AND s.waiting ORDER BY 1 LOOP
        admitted := admitted + baton.concurrency_admit(w, k);
      END LOOP;
      RETURN admitted;
    END $fn$;
  `,
};

export const CONCURRENCY_MIGRATION = {
  name: "running runs per concurrency key",
  sql: `
    -- One row per (workflow, key value): how many of its runs hold a slot, and
    -- the limit its latest start asked for. Every change locks this row first.
    CREATE TABLE baton.concurrency_keys (
      workflow text NOT NULL,
      key text NOT NULL,
      running int NOT NULL DEFAULT 0,
      max_running int NOT NULL,
      PRIMARY KEY (workflow, key)
    );
    -- A run that holds (waiting = false) or waits for (true) a slot; seq is start order.
    CREATE TABLE baton.concurrency_slots (
      run_id uuid PRIMARY KEY,
      workflow text NOT NULL,
      key text NOT NULL,
      waiting boolean NOT NULL,
      seq bigint GENERATED ALWAYS AS IDENTITY
    );
    CREATE INDEX concurrency_slots_order ON baton.concurrency_slots (workflow, key, waiting, seq);

    -- Admits waiting runs of a key, oldest first, while it has free slots; the
    -- caller holds the key's row. A waiting row being removed meanwhile (its
    -- run terminated) is skipped.
    CREATE FUNCTION baton.concurrency_admit(w text, k text) RETURNS int LANGUAGE plpgsql AS $fn$
    DECLARE
      free int;
      admitted int := 0;
      next_run uuid;
    BEGIN
      SELECT max_running - running INTO free FROM baton.concurrency_keys WHERE workflow = w AND key = k;
      WHILE free > 0 LOOP
        SELECT run_id INTO next_run FROM baton.concurrency_slots
          WHERE workflow = w AND key = k AND waiting ORDER BY seq LIMIT 1 FOR UPDATE SKIP LOCKED;
        EXIT WHEN next_run IS NULL;
        UPDATE baton.concurrency_slots SET waiting = false WHERE run_id = next_run;
        INSERT INTO baton.outbox (kind, payload, created_at, taken_until)
          VALUES ('admitRun', jsonb_build_object('runId', next_run), (extract(epoch FROM clock_timestamp()) * 1000)::bigint, 0);
        free := free - 1;
        admitted := admitted + 1;
      END LOOP;
      IF admitted > 0 THEN
        UPDATE baton.concurrency_keys SET running = running + admitted WHERE workflow = w AND key = k;
      END IF;
      RETURN admitted;
    END $fn$;

    CREATE FUNCTION baton.concurrency_take(w text, k text, lim int, strategy text, new_run uuid,
        OUT outcome text, OUT running int, OUT cancelled uuid[]) LANGUAGE plpgsql AS $fn$
    DECLARE
      waiters boolean;
    BEGIN
      INSERT INTO baton.concurrency_keys AS c (workflow, key, max_running) VALUES (w, k, lim)
        ON CONFLICT (workflow, key) DO UPDATE SET max_running = excluded.max_running;
      -- A raised limit frees slots for runs already waiting: they go first.
      PERFORM baton.concurrency_admit(w, k);
      SELECT c.running INTO running FROM baton.concurrency_keys c WHERE c.workflow = w AND c.key = k;
      SELECT EXISTS (SELECT 1 FROM baton.concurrency_slots s WHERE s.workflow = w AND s.key = k AND s.waiting) INTO waiters;
      IF running >= lim AND strategy = 'CANCEL_OLDEST' THEN
        WITH oldest AS (
          SELECT s.run_id FROM baton.concurrency_slots s WHERE s.workflow = w AND s.key = k AND NOT s.waiting
          ORDER BY s.seq LIMIT running - lim + 1 FOR UPDATE),
        gone AS (DELETE FROM baton.concurrency_slots s USING oldest WHERE s.run_id = oldest.run_id RETURNING s.run_id)
        SELECT array_agg(run_id) INTO cancelled FROM gone;
        running := running - coalesce(array_length(cancelled, 1), 0);
      END IF;
      IF running < lim AND NOT waiters THEN
        INSERT INTO baton.concurrency_slots (run_id, workflow, key, waiting) VALUES (new_run, w, k, false);
        UPDATE baton.concurrency_keys c SET running = c.running + 1 - coalesce(array_length(cancelled, 1), 0) WHERE c.workflow = w AND c.key = k;
        outcome := 'run';
      ELSIF strategy = 'CANCEL_NEWEST' THEN
        outcome := 'refused';
      ELSE
        INSERT INTO baton.concurrency_slots (run_id, workflow, key, waiting) VALUES (new_run, w, k, true);
        outcome := 'queued';
      END IF;
    END $fn$;

    -- A run that ends gives its slot back and admits the next waiting run of its key.
    CREATE FUNCTION baton.concurrency_release() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
      s record;
    BEGIN
      DELETE FROM baton.concurrency_slots WHERE run_id = OLD.id RETURNING workflow, key, waiting INTO s;
      IF s.workflow IS NOT NULL AND NOT s.waiting THEN
        UPDATE baton.concurrency_keys SET running = running - 1 WHERE workflow = s.workflow AND key = s.key;
        PERFORM baton.concurrency_admit(s.workflow, s.key);
      END IF;
      RETURN NULL;
    END $fn$;
    CREATE TRIGGER runs_concurrency_release AFTER UPDATE OF status ON baton.runs FOR EACH ROW
      WHEN (OLD.status IN ('RUNNING', 'PAUSED') AND NEW.status NOT IN ('RUNNING', 'PAUSED'))
      EXECUTE FUNCTION baton.concurrency_release();
    CREATE TRIGGER runs_concurrency_release_deleted AFTER DELETE ON baton.runs FOR EACH ROW
      WHEN (OLD.status IN ('RUNNING', 'PAUSED'))
      EXECUTE FUNCTION baton.concurrency_release();
  `,
};
