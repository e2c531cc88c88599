// Schema changes, in order. Each runs once, in a transaction, under an
// advisory lock so replicas starting together do not race; never edit a
// shipped migration, add a new one.
//
// A migration that servers of an earlier version cannot run beside (they
// would read or write the moved data in its old shape) says so
// (`olderReplicasStop`): it is not applied while a replica of that earlier
// version beats on the database (store/replicas.ts), and the server starting
// refuses to, saying what to stop. Any other runs while older replicas serve,
// as in a rolling upgrade.
//
// The other way round (a rollback, or an older pod restarting mid-rollout):
// each applied migration's row records the least schema version a server must
// know to run on the database (`needs_version`, its own version when it is
// marked so; NULL when older servers run beside it). A server that finds
// applied migrations it does not know refuses to start if one of them needs
// more than it knows, and otherwise starts and says which it does not know.
// Servers released before this record cannot be made to check it.
import type pg from "pg";
import { CONCURRENCY_LIMIT_ALL_KEYS_MIGRATION, CONCURRENCY_LIMIT_MIGRATION, CONCURRENCY_MIGRATION } from "./concurrency.js";
import { DEF_SUMMARY_MIGRATION } from "./definitions.js";
import {
  EVENT_COUNT_SHARD_MIGRATION,
  EVENT_FAIR_KEY_MIGRATION,
  EVENT_PUBLISHER_MIGRATION,
  EVENTS_WAITING_MIGRATION,
  EVENTS_WAITING_SHARDS_MIGRATION,
} from "./event-bus.js";
import { EVENT_HANDLER_OWNER_MIGRATION } from "./event-handlers.js";
import { FAIR_CLAIM_MIGRATION, FAIR_WEIGHT_MIGRATION } from "./fair-claim.js";
import { LOOP_ITERATIONS_MIGRATION } from "./loop-iterations.js";
import { OUTBOX_WRITER_MIGRATION } from "./outbox.js";
import { REPLICAS_MIGRATION } from "./replicas.js";
import { RUN_ORDERS_MIGRATION } from "./run-order.js";
import { RUN_TREES_MIGRATION } from "./run-trees.js";
import { RETENTION_MIGRATION } from "./retention.js";
import { SCHEDULES_MIGRATION } from "./schedules.js";
import { TASK_LOG_ORDER_MIGRATION } from "./task-logs.js";

export interface Migration {
  name: string;
  sql: string;
  /** Why servers of an earlier version must stop before it is applied (they cannot work with its data). */
  olderReplicasStop?: string;
}

export const MIGRATIONS: Migration[] = [
  {
    name: "initial schema",
    sql: `
      -- Definitions are content-addressed: runs pin a hash, names/versions point at hashes.
      CREATE TABLE baton.defs (
        hash text PRIMARY KEY,
        body jsonb NOT NULL
      );
      CREATE TABLE baton.workflow_defs (
        name text NOT NULL,
        version int NOT NULL,
        hash text NOT NULL REFERENCES baton.defs(hash),
        created_at bigint NOT NULL,
        PRIMARY KEY (name, version)
      );
      CREATE TABLE baton.task_defs (
        name text PRIMARY KEY,
        body jsonb NOT NULL,
        updated_at bigint NOT NULL
      );
      CREATE TABLE baton.runs (
        id uuid PRIMARY KEY,
        name text NOT NULL,
        version int NOT NULL,
        def_hash text NOT NULL REFERENCES baton.defs(hash),
        status text NOT NULL,
        correlation_id text NOT NULL DEFAULT '',
        idempotency_key text,
        priority int NOT NULL DEFAULT 0,
        input jsonb NOT NULL,
        output jsonb NOT NULL,
        variables jsonb NOT NULL,
        reason text NOT NULL DEFAULT '',
        failed_refs text[] NOT NULL DEFAULT '{}',
        failed_task_id text NOT NULL DEFAULT '',
        parent_run_id text NOT NULL DEFAULT '',
        parent_task_id text NOT NULL DEFAULT '',
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        ended_at bigint NOT NULL DEFAULT 0,
        wake_at bigint NOT NULL DEFAULT 0,
        next_seq int NOT NULL,
        extra jsonb NOT NULL DEFAULT '{}'
      );
      CREATE UNIQUE INDEX runs_idempotency_key ON baton.runs (idempotency_key) WHERE idempotency_key IS NOT NULL;
      CREATE INDEX runs_wake ON baton.runs (wake_at) WHERE wake_at > 0;
      CREATE INDEX runs_name_created ON baton.runs (name, created_at DESC);
      CREATE INDEX runs_status_created ON baton.runs (status, created_at DESC);
      CREATE INDEX runs_created ON baton.runs (created_at DESC, id);
      CREATE INDEX runs_correlation ON baton.runs (correlation_id) WHERE correlation_id <> '';

      CREATE TABLE baton.tasks (
        id uuid PRIMARY KEY,
        run_id uuid NOT NULL,
        seq int NOT NULL,
        ref text NOT NULL,
        type text NOT NULL,
        def_name text NOT NULL,
        status text NOT NULL,
        iteration int NOT NULL,
        input jsonb NOT NULL,
        output jsonb NOT NULL,
        reason text NOT NULL,
        retry_count int NOT NULL,
        retried_task_id text NOT NULL,
        retried boolean NOT NULL,
        executed boolean NOT NULL,
        poll_count int NOT NULL,
        worker_id text NOT NULL,
        lease_token text NOT NULL,
        lease_expires_at bigint NOT NULL,
        scheduled_at bigint NOT NULL,
        started_at bigint NOT NULL,
        ended_at bigint NOT NULL,
        updated_at bigint NOT NULL,
        visible_at bigint NOT NULL,
        callback_after_seconds int NOT NULL,
        response_timeout_seconds int NOT NULL,
        timeout_seconds int NOT NULL,
        sub_workflow_id text NOT NULL,
        rev int NOT NULL,
        extra jsonb NOT NULL
      );
      CREATE INDEX tasks_run ON baton.tasks (run_id, seq);
      CREATE INDEX tasks_lease ON baton.tasks (lease_expires_at) WHERE status = 'IN_PROGRESS' AND lease_expires_at > 0;

      -- The hot queue: only tasks waiting for a worker, so claims stay cheap.
      CREATE TABLE baton.queue (
        task_id uuid PRIMARY KEY,
        task_type text NOT NULL,
        run_id uuid NOT NULL,
        priority int NOT NULL,
        visible_at bigint NOT NULL,
        seq bigint GENERATED ALWAYS AS IDENTITY
      );
      CREATE INDEX queue_claim ON baton.queue (task_type, priority DESC, visible_at, seq);

      -- Cross-run effects (start a child, tell a parent, ...), written in the
      -- event's transaction and carried out after it by any replica.
      CREATE TABLE baton.outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        kind text NOT NULL,
        payload jsonb NOT NULL,
        created_at bigint NOT NULL
      );

      CREATE TABLE baton.task_logs (
        task_id uuid NOT NULL,
        created_at bigint NOT NULL,
        message text NOT NULL
      );
      CREATE INDEX task_logs_task ON baton.task_logs (task_id, created_at);

      CREATE TABLE baton.events (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        sink text NOT NULL,
        payload jsonb NOT NULL,
        created_at bigint NOT NULL
      );
    `,
  },
  {
    name: "claim-side limits: running tasks by type, rate windows",
    sql: `
      -- concurrentExecLimit counts running tasks of a type at claim time.
      CREATE INDEX tasks_running_by_type ON baton.tasks (def_name) WHERE status = 'IN_PROGRESS';
      -- rateLimitPerFrequency: claims per task type per fixed window.
      CREATE TABLE baton.rate_windows (
        task_type text NOT NULL,
        window_start bigint NOT NULL,
        used int NOT NULL,
        PRIMARY KEY (task_type, window_start)
      );
    `,
  },
  {
    name: "api keys",
    sql: `
      -- API keys: only a SHA-256 of each key is kept; revoked keys stay listed.
      CREATE TABLE baton.api_keys (
        id text PRIMARY KEY,
        name text NOT NULL DEFAULT '',
        role text NOT NULL CHECK (role IN ('admin', 'publisher', 'operator', 'worker', 'reader')),
        task_types text[] NOT NULL DEFAULT '{}',
        secret_hash text NOT NULL,
        created_at bigint NOT NULL,
        created_by text NOT NULL DEFAULT '',
        revoked_at bigint NOT NULL DEFAULT 0
      );
    `,
  },
  {
    name: "outbox items are taken with a lease, not held locked",
    sql: `
      -- An item being carried out is invisible until this instant; a process
      -- that dies mid-way leaves it to be taken again after it.
      ALTER TABLE baton.outbox ADD COLUMN taken_until bigint NOT NULL DEFAULT 0;
    `,
  },
  {
    name: "event handlers, and events taken once with a lease",
    sql: `
      -- Conductor EventHandlers, kept as the JSON they were registered with.
      CREATE TABLE baton.event_handlers (
        name text PRIMARY KEY,
        event text NOT NULL,
        active boolean NOT NULL,
        body text NOT NULL,
        created_at bigint NOT NULL,
        updated_at bigint NOT NULL
      );
      CREATE INDEX event_handlers_by_event ON baton.event_handlers (event) WHERE active;
      -- name: the event's name when it was given (PublishEvent); NULL when it
      -- follows from the sink of the EVENT task that wrote it. An event being
      -- handled is invisible until taken_until; it is deleted once handled, so
      -- a process that dies mid-way leaves it to be taken again after its lease.
      ALTER TABLE baton.events ADD COLUMN name text;
      ALTER TABLE baton.events ADD COLUMN taken_until bigint NOT NULL DEFAULT 0;
      ALTER TABLE baton.events ADD COLUMN attempts int NOT NULL DEFAULT 0;
    `,
  },
  {
    name: "runs carry a revision",
    sql: `
      -- Bumped by every event written to the run: a replica that kept the
      -- run's finished tasks in memory knows whether they are still current.
      ALTER TABLE baton.runs ADD COLUMN rev bigint NOT NULL DEFAULT 0;
    `,
  },
  {
    name: "the hot queue and the outbox are vacuumed as they churn",
    sql: `
      -- Every task passes through the queue once (insert, then delete): left
      -- to the default thresholds, dead index entries pile up between vacuums
      -- and every claim walks them. Vacuum after a fixed number of changes.
      ALTER TABLE baton.queue SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000,
        autovacuum_vacuum_cost_delay = 0, autovacuum_analyze_scale_factor = 0, autovacuum_analyze_threshold = 1000);
      ALTER TABLE baton.outbox SET (autovacuum_vacuum_scale_factor = 0, autovacuum_vacuum_threshold = 1000, autovacuum_vacuum_cost_delay = 0);
    `,
  },
  {
    name: "run rows leave room to be updated in place",
    sql: `
      -- Every event rewrites its run's row. When no indexed column changes and
      -- the page has room, PostgreSQL updates it in place (a HOT update) and
      -- touches none of the run's indexes; full pages force a new row version
      -- in every index. New pages are filled to 80%.
      ALTER TABLE baton.runs SET (fillfactor = 80);
    `,
  },
  {
    name: "a batch write that finds its rows moved fails whole",
    sql: `
      -- Called by a batch write when a run or task it updates was changed by
      -- someone else since it was read: the statement, and so the batch, fails
      -- as a serialization failure and is decided again from the database.
      CREATE FUNCTION baton.write_conflict(detail text) RETURNS int LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'write conflict: %', detail USING ERRCODE = 'serialization_failure';
      END
      $$;
    `,
  },
  SCHEDULES_MIGRATION,
  RETENTION_MIGRATION,
  {
    name: "routes: weights over a workflow's versions, their history, sticky keys, and each run's choice",
    sql: `
      CREATE TABLE baton.routes (
        name text PRIMARY KEY,
        weights jsonb NOT NULL,
        sticky text NOT NULL DEFAULT '',
        guard jsonb,
        stable_version int NOT NULL,
        revision bigint NOT NULL,
        updated_at bigint NOT NULL,
        updated_by text NOT NULL
      );
      CREATE TABLE baton.route_history (
        name text NOT NULL,
        revision bigint NOT NULL,
        at bigint NOT NULL,
        action text NOT NULL,
        actor text NOT NULL,
        note text NOT NULL,
        weights jsonb NOT NULL,
        sticky text NOT NULL,
        stable_version int NOT NULL,
        PRIMARY KEY (name, revision)
      );
      -- A sticky key keeps its version while that version stays routed; keys
      -- are stored hashed, so any length fits the index.
      CREATE TABLE baton.route_assignments (
        name text NOT NULL,
        key_hash text NOT NULL,
        version int NOT NULL,
        PRIMARY KEY (name, key_hash)
      );
      -- How a start without a version got its version (null: no route chose).
      ALTER TABLE baton.runs ADD COLUMN route jsonb;
    `,
  },
  FAIR_CLAIM_MIGRATION,
  {
    name: "a new API key notifies",
    sql: `
      -- Replicas remember key ids they found no key for; a key created by any
      -- means (a server, baton keys --database-url, SQL) tells them to forget
      -- its id, on the channel revocations use (store/notifications.ts).
      CREATE FUNCTION baton.api_key_created() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        PERFORM pg_notify('baton_keys', NEW.id);
        RETURN NULL;
      END
      $$;
      CREATE TRIGGER api_key_created AFTER INSERT ON baton.api_keys FOR EACH ROW EXECUTE FUNCTION baton.api_key_created();
    `,
  },
  REPLICAS_MIGRATION,
  {
    // The console's runs list filtered by name and status, and its counts per
    // status for a name: at 1,000,000 runs both read runs_name_created and
    // checked every row's status in the heap (1.3 s and 1.0 s); with this
    // index they read only the matching entries (index-only for the counts).
    name: "runs: an index on name, status and start for the runs list's name + status filters and counts",
    sql: `CREATE INDEX runs_name_status_created ON baton.runs (name, status, created_at DESC, id DESC);`,
  },
  CONCURRENCY_MIGRATION,
  FAIR_WEIGHT_MIGRATION,
  EVENT_HANDLER_OWNER_MIGRATION,
  TASK_LOG_ORDER_MIGRATION,
  CONCURRENCY_LIMIT_MIGRATION,
  RUN_ORDERS_MIGRATION,
  CONCURRENCY_LIMIT_ALL_KEYS_MIGRATION,
  LOOP_ITERATIONS_MIGRATION,
  OUTBOX_WRITER_MIGRATION,
  DEF_SUMMARY_MIGRATION,
  EVENT_PUBLISHER_MIGRATION,
  RUN_TREES_MIGRATION,
  EVENTS_WAITING_MIGRATION,
  {
    // The runs list and its counts filtered by name and version read every run
    // of the name (runs_name_created_id, each row's version checked in the
    // heap): at 300,000 runs of one name, a page of a version's 10 runs read
    // all 300,000 (71 ms), and its counts 1.8 million (333 ms). Ascending, as
    // the orders' indexes are: a backward scan serves newest first.
    name: "runs: an index on name, version and start for the runs list's version filter and counts",
    sql: `CREATE INDEX runs_name_version_created_id ON baton.runs (name, version, created_at, id);`,
  },
  EVENTS_WAITING_SHARDS_MIGRATION,
  EVENT_FAIR_KEY_MIGRATION,
  EVENT_COUNT_SHARD_MIGRATION,
];

const LOCK_KEY = 0x6261746f6e; // "baton"

/** A replica that beat this recently is running (each beats every 2 s, console/replica-view.ts); one killed stops counting this long after. */
export const LIVE_REPLICA_MS = 10_000;

/** Refuses migrations that need older replicas stopped while any of them beats (none of this version has started yet: they are all older). */
async function checkNoOlderReplicas(client: pg.ClientBase, pending: Migration[], now: number): Promise<void> {
  const reasons = pending.filter((m) => m.olderReplicasStop).map((m) => `${m.name}: ${m.olderReplicasStop}`);
  if (reasons.length === 0) return;
  const table = await client.query<{ t: string | null }>("SELECT to_regclass('baton.replicas')::text AS t");
  if (!table.rows[0]?.t) return;
  const { rows } = await client.query<{ n: string; last: string }>("SELECT count(*) AS n, max(beat_at) AS last FROM baton.replicas WHERE beat_at >= $1", [
    now - LIVE_REPLICA_MS,
  ]);
  const live = Number(rows[0]?.n ?? 0);
  if (live === 0) return;
  const ago = Math.max(0, Math.round((now - Number(rows[0]!.last)) / 1000));
  throw new Error(
    `${live} replica${live === 1 ? "" : "s"} of an earlier Baton ${live === 1 ? "is" : "are"} running on this database (last heartbeat ${ago} s ago), ` +
      `and this version changes the schema in a way they cannot work with (${reasons.join("; ")}). ` +
      `Stop every replica of the earlier version, then start this one; a replica that was killed rather than stopped counts as running for ${LIVE_REPLICA_MS / 1000} s after its last heartbeat.`,
  );
}

/** An applied migration this server's list does not have: a newer server applied it. */
export interface UnknownMigration {
  version: number;
  name: string;
  /** The least schema version a server must know to run on the database with it applied; null: any. */
  needsVersion: number | null;
  why: string | null;
}

export interface Migrated {
  applied: number;
  /** Applied by a newer server, and safe for this one to run beside (else migrate() throws). */
  unknown: UnknownMigration[];
}

/** What a migration asks of servers once applied, as its row records it. */
function needs(migration: Migration, version: number): { needsVersion: number | null; why: string | null } {
  return migration.olderReplicasStop ? { needsVersion: version, why: migration.olderReplicasStop } : { needsVersion: null, why: null };
}

/** The record of what servers each migration needs came after the table; a database migrated before it gets the columns, and the flags its known migrations carry. */
async function recordNeeds(client: pg.ClientBase, migrations: Migration[], current: number): Promise<void> {
  const { rows } = await client.query(
    "SELECT 1 FROM pg_attribute WHERE attrelid = 'baton.migrations'::regclass AND attname = 'needs_version' AND NOT attisdropped",
  );
  if (rows.length > 0) return;
  await client.query("ALTER TABLE baton.migrations ADD COLUMN needs_version int, ADD COLUMN needs_why text");
  for (let i = 0; i < Math.min(current, migrations.length); i++) {
    const { needsVersion, why } = needs(migrations[i]!, i + 1);
    if (needsVersion !== null) {
      await client.query("UPDATE baton.migrations SET needs_version = $2, needs_why = $3 WHERE version = $1", [i + 1, needsVersion, why]);
    }
  }
}

/** Refuses a database that has a migration applied this server does not know and cannot run beside; returns the others. */
async function checkUnknownMigrations(client: pg.ClientBase, known: number): Promise<UnknownMigration[]> {
  const { rows } = await client.query<{ version: number; name: string; needs_version: number | null; needs_why: string | null }>(
    "SELECT version, name, needs_version, needs_why FROM baton.migrations WHERE version > $1 ORDER BY version",
    [known],
  );
  const unknown = rows.map((r) => ({ version: r.version, name: r.name, needsVersion: r.needs_version, why: r.needs_why }));
  const blocking = unknown.filter((m) => m.needsVersion !== null && m.needsVersion > known);
  if (blocking.length === 0) return unknown;
  const needed = Math.max(...blocking.map((m) => m.needsVersion!));
  const named = blocking.map(
    (m) => `migration ${m.version} "${m.name}" needs a server that knows schema version ${m.needsVersion} or later${m.why ? ` (${m.why})` : ""}`,
  );
  throw new Error(
    `This database was migrated by a newer Baton: it is at schema version ${rows[rows.length - 1]!.version} and this server knows only ${known}; ` +
      `${named.join("; ")}. This server would misread its data, so it does not start. ` +
      `Run a Baton whose schema version is ${needed} or later (the version that migrated the database, or newer) on it, ` +
      `or restore the database from a backup taken before that migration to go back to this version.`,
  );
}

/** Applies every migration not yet applied (of `migrations`: all of them but in tests). Safe to call from several processes at once. */
export async function migrate(client: pg.ClientBase, migrations: Migration[] = MIGRATIONS, now = Date.now()): Promise<Migrated> {
  await client.query("BEGIN");
  try {
    await client.query("SELECT pg_advisory_xact_lock($1)", [LOCK_KEY]);
    await client.query("CREATE SCHEMA IF NOT EXISTS baton");
    await client.query(
      "CREATE TABLE IF NOT EXISTS baton.migrations (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now(), needs_version int, needs_why text)",
    );
    const { rows } = await client.query<{ version: number }>("SELECT coalesce(max(version), 0) AS version FROM baton.migrations");
    const current = rows[0]?.version ?? 0;
    await recordNeeds(client, migrations, current);
    const unknown = current > migrations.length ? await checkUnknownMigrations(client, migrations.length) : [];
    // A database no server has migrated yet has no older replicas.
    if (current > 0) await checkNoOlderReplicas(client, migrations.slice(current), now);
    let applied = 0;
    for (let i = current; i < migrations.length; i++) {
      const migration = migrations[i]!;
      await client.query(migration.sql);
      const { needsVersion, why } = needs(migration, i + 1);
      await client.query("INSERT INTO baton.migrations (version, name, needs_version, needs_why) VALUES ($1, $2, $3, $4)", [
        i + 1,
        migration.name,
        needsVersion,
        why,
      ]);
      applied++;
    }
    await client.query("COMMIT");
    return { applied, unknown };
  } catch (error) {
    await client.query("ROLLBACK");
    throw error;
  }
}
