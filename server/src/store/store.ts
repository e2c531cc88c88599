// The PostgreSQL store: the only place that knows SQL. Every event is one
// transaction that locks its run row; claims take queue rows with SKIP LOCKED.
import { parseJson, stringifyJson } from "@baton/protocol";
import pg from "pg";
import type { TaskDef, WorkflowDef } from "@baton/sdk";
import type { JsonObject, RouteChoice, RunState, TaskState, WorkflowStatus } from "../engine/model.js";
import { FairClaims } from "./fair-claim.js";
import { migrate } from "./migrations.js";
import { PrimaryLocator, routedClient } from "./hosts.js";

const { Pool, types } = pg;

// bigint columns hold epoch milliseconds: well inside the safe integer range.
const typeParsers = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20 ? (value: string) => Number(value) : oid === 114 || oid === 3802 ? parseJson : types.getTypeParser(oid, format as "text")) as typeof types.getTypeParser,
};

export type Tx = pg.PoolClient;
/** A transaction's client, or the pool for a statement on its own. */
export type Queryable = pg.ClientBase | pg.Pool;

/**
 * An error that says the connection (or the node behind it) is unusable: the
 * database went away, the session was terminated, or the node became a
 * standby. Such a client is dropped from the pool, and the call may be retried.
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (code.startsWith("08") || code.startsWith("57P") || code === "25006" || code === "53300") return true;
    if (code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE" || code === "ETIMEDOUT") return true;
  }
  const message = error instanceof Error ? error.message : "";
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message);
}

/** A run, by its id or by the id of one of its tasks. */
export type RunTarget = string | { taskId: string };

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const TASK_COLUMNS = {
  id: "uuid",
  run_id: "uuid",
  seq: "int",
  ref: "text",
  type: "text",
  def_name: "text",
  status: "text",
  iteration: "int",
  input: "jsonb",
  output: "jsonb",
  reason: "text",
  retry_count: "int",
  retried_task_id: "text",
  retried: "boolean",
  executed: "boolean",
  poll_count: "int",
  worker_id: "text",
  lease_token: "text",
  lease_expires_at: "bigint",
  scheduled_at: "bigint",
  started_at: "bigint",
  ended_at: "bigint",
  updated_at: "bigint",
  visible_at: "bigint",
  callback_after_seconds: "int",
  response_timeout_seconds: "int",
  timeout_seconds: "int",
  sub_workflow_id: "text",
  rev: "int",
  extra: "jsonb",
} as const;
type TaskRow = { [K in keyof typeof TASK_COLUMNS]: unknown };
const TASK_COLUMN_NAMES = Object.keys(TASK_COLUMNS);
const RECORDSET = TASK_COLUMN_NAMES.map((c) => `${c} ${TASK_COLUMNS[c as keyof typeof TASK_COLUMNS]}`).join(", ");

function taskToRow(t: TaskState): TaskRow {
  return {
    id: t.id,
    run_id: t.runId,
    seq: t.seq,
    ref: t.ref,
    type: t.type,
    def_name: t.defName,
    status: t.status,
    iteration: t.iteration,
    input: t.input,
    output: t.output,
    reason: t.reason,
    retry_count: t.retryCount,
    retried_task_id: t.retriedTaskId,
    retried: t.retried,
    executed: t.executed,
    poll_count: t.pollCount,
    worker_id: t.workerId,
    lease_token: t.leaseToken,
    lease_expires_at: t.leaseExpiresAt,
    scheduled_at: t.scheduledAt,
    started_at: t.startedAt,
    ended_at: t.endedAt,
    updated_at: t.updatedAt,
    visible_at: t.visibleAt,
    callback_after_seconds: t.callbackAfterSeconds,
    response_timeout_seconds: t.responseTimeoutSeconds,
    timeout_seconds: t.timeoutSeconds,
    sub_workflow_id: t.subWorkflowId,
    rev: t.rev,
    extra: t.extra,
  };
}

export function rowToTask(r: Record<string, unknown>): TaskState {
  return {
    id: r["id"] as string,
    runId: r["run_id"] as string,
    seq: r["seq"] as number,
    ref: r["ref"] as string,
    type: r["type"] as string,
    defName: r["def_name"] as string,
    status: r["status"] as TaskState["status"],
    iteration: r["iteration"] as number,
    input: r["input"] as JsonObject,
    output: r["output"] as JsonObject,
    reason: r["reason"] as string,
    retryCount: r["retry_count"] as number,
    retriedTaskId: r["retried_task_id"] as string,
    retried: r["retried"] as boolean,
    executed: r["executed"] as boolean,
    pollCount: r["poll_count"] as number,
    workerId: r["worker_id"] as string,
    leaseToken: r["lease_token"] as string,
    leaseExpiresAt: r["lease_expires_at"] as number,
    scheduledAt: r["scheduled_at"] as number,
    startedAt: r["started_at"] as number,
    endedAt: r["ended_at"] as number,
    updatedAt: r["updated_at"] as number,
    visibleAt: r["visible_at"] as number,
    callbackAfterSeconds: r["callback_after_seconds"] as number,
    responseTimeoutSeconds: r["response_timeout_seconds"] as number,
    timeoutSeconds: r["timeout_seconds"] as number,
    subWorkflowId: r["sub_workflow_id"] as string,
    rev: r["rev"] as number,
    extra: r["extra"] as JsonObject,
  };
}

export function rowToRun(r: Record<string, unknown>): RunState {
  return {
    id: r["id"] as string,
    name: r["name"] as string,
    version: r["version"] as number,
    defHash: r["def_hash"] as string,
    status: r["status"] as WorkflowStatus,
    input: r["input"] as JsonObject,
    output: r["output"] as JsonObject,
    variables: r["variables"] as JsonObject,
    correlationId: r["correlation_id"] as string,
    idempotencyKey: (r["idempotency_key"] as string | null) ?? "",
    priority: r["priority"] as number,
    reason: r["reason"] as string,
    failedRefs: r["failed_refs"] as string[],
    failedTaskId: r["failed_task_id"] as string,
    parentRunId: r["parent_run_id"] as string,
    parentTaskId: r["parent_task_id"] as string,
    createdAt: r["created_at"] as number,
    updatedAt: r["updated_at"] as number,
    endedAt: r["ended_at"] as number,
    wakeAt: r["wake_at"] as number,
    nextSeq: r["next_seq"] as number,
    extra: r["extra"] as JsonObject,
    ...(r["route"] ? { route: r["route"] as RouteChoice } : {}),
  };
}

const RUN_COLUMNS = {
  id: "uuid",
  name: "text",
  version: "int",
  def_hash: "text",
  status: "text",
  correlation_id: "text",
  idempotency_key: "text",
  priority: "int",
  input: "jsonb",
  output: "jsonb",
  variables: "jsonb",
  reason: "text",
  failed_refs: "text[]",
  failed_task_id: "text",
  parent_run_id: "text",
  parent_task_id: "text",
  created_at: "bigint",
  updated_at: "bigint",
  ended_at: "bigint",
  wake_at: "bigint",
  next_seq: "int",
  extra: "jsonb",
  route: "jsonb",
} as const;
const RUN_COLUMN_NAMES = Object.keys(RUN_COLUMNS);
const RUN_RECORDSET = RUN_COLUMN_NAMES.map((c) => `${c} ${RUN_COLUMNS[c as keyof typeof RUN_COLUMNS]}`).join(", ");

function runToRow(run: RunState): { [K in keyof typeof RUN_COLUMNS]: unknown } {
  return {
    id: run.id,
    name: run.name,
    version: run.version,
    def_hash: run.defHash,
    status: run.status,
    correlation_id: run.correlationId,
    idempotency_key: run.idempotencyKey || null,
    priority: run.priority,
    input: run.input,
    output: run.output,
    variables: run.variables,
    reason: run.reason,
    failed_refs: run.failedRefs,
    failed_task_id: run.failedTaskId,
    parent_run_id: run.parentRunId,
    parent_task_id: run.parentTaskId,
    created_at: run.createdAt,
    updated_at: run.updatedAt,
    ended_at: run.endedAt,
    wake_at: run.wakeAt,
    next_seq: run.nextSeq,
    extra: run.extra,
    route: run.route ?? null,
  };
}

export interface QueueEntry {
  taskId: string;
  taskType: string;
  runId: string;
  priority: number;
  visibleAt: number;
  /** The run's fairness key ("" or absent: none). */
  fairKey?: string;
}

/** A task type's claim-side limits (from its TaskDef). */
export interface ClaimLimits {
  concurrentExecLimit?: number;
  rateLimitPerFrequency?: number;
  rateLimitFrequencyInSeconds?: number;
}

export interface OutboxEntry {
  kind: string;
  payload: unknown;
}

/** Everything a batch of events writes, in one round trip. */
export interface BatchWrite {
  /** New states of runs the batch decided, with the revision each was decided from. */
  runs: { run: RunState; rev: number }[];
  /** Runs the batch starts (ON CONFLICT DO NOTHING: see `insertedRuns`). */
  newRuns: RunState[];
  removed: string[];
  inserts: TaskState[];
  updates: TaskState[];
  dequeue: string[];
  enqueue: QueueEntry[];
  outbox: OutboxEntry[];
  /** The writer carries its outbox items out itself after commit: other replicas leave them alone until then. */
  outboxHeldUntil: number;
  events: { sink: string; name: string; payload: JsonObject }[];
  now: number;
  notifyTaskTypes: string[];
  notifyRunsEnded: string[];
}

/** The runs a batch locked, with their tasks; and which run each loaded task belongs to. */
export interface LoadedRuns {
  runs: Map<string, LoadedRun>;
  runOfTask: Map<string, string>;
}

export interface LoadedRun {
  run: RunState;
  /** The run's revision as stored. */
  rev: number;
  /** Every task of the run; undefined for a run the caller keeps in memory (it asked with cachedRunIds). */
  tasks: TaskState[] | undefined;
  /** For a run kept in memory: the rows of the tasks the events name, as stored now. */
  fresh: TaskState[];
}

export interface OutboxItem {
  id: number;
  kind: string;
  payload: JsonObject;
}

export interface SearchQuery {
  name?: string;
  statuses?: string[];
  correlationId?: string;
  version?: number;
  id?: string;
  from?: number;
  to?: number;
  limit: number;
  /** Continue after this (created_at, id). */
  after?: { createdAt: number; id: string };
  /** Oldest first (keyset forward) instead of newest first. */
  ascending?: boolean;
}

/**
 * The second half of a claim: given \`picked\` (queue rows taken), marks their
 * tasks IN_PROGRESS under fresh leases ($2 now, $4 worker, $5 tokens).
 */
const CLAIM_UPDATE = `numbered AS (SELECT task_id, row_number() OVER () AS n FROM picked)
       UPDATE baton.tasks t SET
         status = 'IN_PROGRESS',
         poll_count = t.poll_count + 1,
         worker_id = $4,
         lease_token = ($5::text[])[numbered.n],
         started_at = CASE WHEN t.started_at = 0 THEN $2 ELSE t.started_at END,
         lease_expires_at = CASE WHEN t.timeout_seconds > 0
           THEN least($2 + t.response_timeout_seconds * 1000::bigint,
                      (CASE WHEN t.started_at = 0 THEN $2 ELSE t.started_at END) + t.timeout_seconds * 1000::bigint)
           ELSE $2 + t.response_timeout_seconds * 1000::bigint END,
         updated_at = $2,
         rev = t.rev + 1
       FROM numbered
       WHERE t.id = numbered.task_id AND t.status = 'SCHEDULED'`;

export class Store {
  readonly pool: pg.Pool;
  readonly locator: PrimaryLocator;
  /** Which task types have keyed queue rows, and where each one's round robin stands. */
  readonly fair = new FairClaims();

  constructor(connectionString: string, poolSize = 10) {
    this.locator = new PrimaryLocator(connectionString);
    this.pool = new Pool({
      // Each new connection goes to the node the locator picked (several hosts: the primary).
      Client: routedClient(this.locator),
      max: poolSize,
      types: typeParsers,
      application_name: "baton",
      // Every statement here looks rows up by key. A prepared statement keeps
      // the plan it got while its tables were small (a fresh database), and a
      // sequential scan chosen then stays until the next ANALYZE while the
      // table grows: measured, it had batches and claims scan all tasks and
      // doubled PostgreSQL's CPU per task. (A connection string's own
      // `options` parameter takes precedence over this.)
      options: "-c enable_seqscan=off",
      // A pool that cannot hand out a connection fails the call rather than
      // leaving it waiting forever.
      connectionTimeoutMillis: 30_000,
    });
    // A client dying (database restart, terminated backend) must not crash the
    // process: idle ones report to the pool, checked-out ones to their own
    // listener; the query in flight fails and the event is retried or refused.
    this.pool.on("error", () => {});
    this.pool.on("connect", (client) => client.on("error", () => {}));
  }

  async migrate(): Promise<number> {
    await this.locator.refresh();
    const client = await this.pool.connect();
    try {
      return await migrate(client);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.pool.end();
  }

  /** Runs `fn` in a transaction. */
  async tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T> {
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const result = await fn(client);
      await client.query("COMMIT");
      client.release();
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      client.release(isConnectionError(error) ? (error as Error) : undefined);
      throw error;
    }
  }

  /**
   * Runs a batch of events: begins a transaction, locks the runs they target
   * (by run id, or by the id of one of their tasks) in id order, so batches
   * never deadlock one another, and loads the locked runs with all their
   * tasks, in one round trip: the statements of a simple query each take a
   * fresh snapshot, so the tasks are read after the locks are granted. Then
   * `fn`, then COMMIT. With skipLocked, a run another transaction holds is
   * left out instead of waited for.
   */
  async events<T>(
    targets: { runIds: string[]; taskIds: string[]; cachedRunIds: string[] },
    options: { skipLocked?: boolean },
    fn: (tx: Tx, loaded: LoadedRuns) => Promise<T>,
  ): Promise<T> {
    // Inlined into SQL text (the simple protocol takes no parameters): only UUIDs pass.
    const runIds = targets.runIds.filter((id) => UUID.test(id));
    const taskIds = targets.taskIds.filter((id) => UUID.test(id));
    const array = (ids: string[]) => `'{${ids.filter((id) => UUID.test(id)).join(",")}}'::uuid[]`;
    const wanted = `(${array(runIds)} || ARRAY(SELECT run_id FROM baton.tasks WHERE id = ANY(${array(taskIds)})))`;
    const cached = array(targets.cachedRunIds);
    const client = await this.pool.connect();
    try {
      const results = (await client.query(
        runIds.length + taskIds.length === 0
          ? "BEGIN"
          : `BEGIN; SELECT * FROM baton.runs WHERE id = ANY${wanted} ORDER BY id FOR UPDATE${options.skipLocked ? " SKIP LOCKED" : ""};
             SELECT * FROM baton.tasks WHERE run_id = ANY(ARRAY(SELECT unnest${wanted} EXCEPT SELECT unnest(${cached}))) ORDER BY run_id, seq;
             SELECT * FROM baton.tasks WHERE id = ANY(${array(taskIds)}) AND run_id = ANY(${cached})`,
      )) as unknown as pg.QueryResult[] | pg.QueryResult;
      const loaded: LoadedRuns = { runs: new Map(), runOfTask: new Map() };
      if (Array.isArray(results)) {
        const cachedIds = new Set(targets.cachedRunIds);
        for (const row of results[1]!.rows) {
          const id = row.id as string;
          loaded.runs.set(id, { run: rowToRun(row), rev: Number(row.rev), tasks: cachedIds.has(id) ? undefined : [], fresh: [] });
        }
        for (const [index, field] of [[2, "tasks"], [3, "fresh"]] as const) {
          for (const row of results[index]!.rows) {
            const entry = loaded.runs.get(row.run_id as string);
            if (!entry) continue; // skipped: another transaction holds it
            entry[field]?.push(rowToTask(row));
            loaded.runOfTask.set(row.id as string, row.run_id as string);
          }
        }
      }
      const result = await fn(client, loaded);
      await client.query("COMMIT");
      client.release();
      return result;
    } catch (error) {
      await client.query("ROLLBACK").catch(() => {});
      client.release(isConnectionError(error) ? (error as Error) : undefined);
      throw error;
    }
  }

  // ---- definitions ------------------------------------------------------------

  async putDef(q: Queryable, hash: string, def: WorkflowDef): Promise<void> {
    await q.query("INSERT INTO baton.defs (hash, body) VALUES ($1, $2) ON CONFLICT (hash) DO NOTHING", [hash, stringifyJson(def)]);
  }

  async defByHash(hash: string, q: pg.ClientBase | pg.Pool = this.pool): Promise<WorkflowDef | undefined> {
    const { rows } = await q.query("SELECT body FROM baton.defs WHERE hash = $1", [hash]);
    return rows[0]?.body as WorkflowDef | undefined;
  }

  async workflowDef(q: pg.ClientBase | pg.Pool, name: string, version?: number): Promise<{ def: WorkflowDef; hash: string; version: number; createdAt: number } | undefined> {
    const { rows } = await q.query({
      name: version === undefined ? "baton-workflow-def-latest" : "baton-workflow-def",
      text: `SELECT w.version, w.hash, w.created_at, d.body FROM baton.workflow_defs w JOIN baton.defs d ON d.hash = w.hash
       WHERE w.name = $1 ${version === undefined ? "" : "AND w.version = $2"} ORDER BY w.version DESC LIMIT 1`,
      values: version === undefined ? [name] : [name, version],
    });
    const row = rows[0];
    return row ? { def: row.body as WorkflowDef, hash: row.hash as string, version: row.version as number, createdAt: row.created_at as number } : undefined;
  }

  /** Points name/version at `hash`; returns whether anything changed. */
  async putWorkflowVersion(q: pg.ClientBase, name: string, version: number, hash: string, now: number): Promise<boolean> {
    const { rowCount } = await q.query(
      `INSERT INTO baton.workflow_defs (name, version, hash, created_at) VALUES ($1, $2, $3, $4)
       ON CONFLICT (name, version) DO UPDATE SET hash = excluded.hash WHERE baton.workflow_defs.hash <> excluded.hash`,
      [name, version, hash, now],
    );
    const changed = (rowCount ?? 0) > 0;
    // Every replica forgets its cached latest version of the name (at commit).
    if (changed) await q.query("SELECT pg_notify('baton_workflow_defs', $1)", [name]);
    return changed;
  }

  async listWorkflowDefs(name: string, allVersions: boolean): Promise<{ name: string; version: number; hash: string; createdAt: number; description: string }[]> {
    const { rows } = await this.pool.query(
      `SELECT ${allVersions ? "" : "DISTINCT ON (w.name)"} w.name, w.version, w.hash, w.created_at, coalesce(d.body->>'description', '') AS description
       FROM baton.workflow_defs w JOIN baton.defs d ON d.hash = w.hash
       WHERE ($1 = '' OR w.name = $1) ORDER BY w.name, w.version DESC`,
      [name],
    );
    return rows.map((r) => ({ name: r.name, version: r.version, hash: r.hash, createdAt: r.created_at, description: r.description }));
  }

  async putTaskDefs(defs: TaskDef[], now: number): Promise<string[]> {
    return this.tx(async (tx) => {
      const changed: string[] = [];
      for (const def of defs) {
        const { rowCount } = await tx.query(
          `INSERT INTO baton.task_defs (name, body, updated_at) VALUES ($1, $2, $3)
           ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at WHERE baton.task_defs.body <> excluded.body`,
          [def.name, stringifyJson(def), now],
        );
        if ((rowCount ?? 0) > 0) changed.push(def.name);
      }
      if (changed.length > 0) await tx.query("SELECT pg_notify('baton_taskdefs', '')");
      return changed;
    });
  }

  async taskDefs(q: pg.ClientBase | pg.Pool, names?: string[]): Promise<Map<string, TaskDef>> {
    const { rows } = names
      ? await q.query("SELECT body FROM baton.task_defs WHERE name = ANY($1)", [names])
      : await q.query("SELECT body FROM baton.task_defs ORDER BY name");
    return new Map(rows.map((r) => [(r.body as TaskDef).name, r.body as TaskDef]));
  }

  // ---- runs -----------------------------------------------------------------

  async runIdByIdempotencyKey(q: pg.ClientBase | pg.Pool, key: string): Promise<string | undefined> {
    const { rows } = await q.query("SELECT id FROM baton.runs WHERE idempotency_key = $1", [key]);
    return rows[0]?.id as string | undefined;
  }


  /** A run (with its tasks); pass the transaction to read it again under the lock it holds. */
  async getRun(runId: string, withTasks: boolean, q: pg.ClientBase | pg.Pool = this.pool): Promise<{ run: RunState; tasks: TaskState[] } | undefined> {
    const { rows } = await q.query("SELECT * FROM baton.runs WHERE id = $1", [runId]);
    if (!rows[0]) return undefined;
    const tasks = withTasks ? (await q.query("SELECT * FROM baton.tasks WHERE run_id = $1 ORDER BY seq", [runId])).rows.map(rowToTask) : [];
    return { run: rowToRun(rows[0]), tasks };
  }

  async search(q: SearchQuery): Promise<RunState[]> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace("?", `$${params.length}`));
    };
    if (q.name) add("name = ?", q.name);
    if (q.statuses && q.statuses.length > 0) add("status = ANY(?)", q.statuses);
    if (q.correlationId) add("correlation_id = ?", q.correlationId);
    if (q.version !== undefined) add("version = ?", q.version);
    if (q.id) add("id = ?::uuid", q.id);
    if (q.from) add("created_at >= ?", q.from);
    if (q.to) add("created_at < ?", q.to);
    if (q.after) {
      params.push(q.after.createdAt, q.after.id);
      where.push(`(created_at, id) ${q.ascending ? ">" : "<"} ($${params.length - 1}, $${params.length}::uuid)`);
    }
    params.push(q.limit);
    const order = q.ascending ? "ASC" : "DESC";
    const { rows } = await this.pool.query(
      `SELECT * FROM baton.runs ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY created_at ${order}, id ${order} LIMIT $${params.length}`,
      params,
    );
    return rows.map(rowToRun);
  }

  /**
   * Writes a batch's changes as a single statement (data-modifying CTEs), so
   * a batch costs one round trip to write whatever it changed. Updates are
   * optimistic: a run or task whose revision moved since it was read (another
   * replica's event, a claim) fails the whole statement with a serialization
   * failure (40001), so the batch is decided again. That makes the statement
   * safe on its own, outside a transaction (`q` a pool), for runs decided
   * from memory. New runs whose id or idempotency key exists already are not
   * inserted: in a transaction the caller checks `insertedRuns` and rolls
   * back when one is missing; with `allRunsNew`, the statement fails instead.
   */
  async writeBatch(q: Queryable, w: BatchWrite, options: { allRunsNew?: boolean } = {}): Promise<{ outboxIds: number[]; insertedRuns: Set<string> }> {
    if (w.removed.length > 0) {
      // Deleting takes statements of its own: only inside a transaction is the batch still one change.
      if (q instanceof Pool) throw new Error("a batch that removes tasks must be written in a transaction");
      await this.deleteTasks(q, w.removed);
    }
    // Only the parts this batch has: the statement's cost grows with its parts, empty or not.
    // Each combination is its own prepared statement, named by the parts it has.
    const values: unknown[] = [];
    const param = (value: unknown) => `$${values.push(value)}`;
    let name = "baton-write-";
    const parts: string[] = [];
    const notices: string[] = [];
    const conflicts: string[] = [];
    const outputs: string[] = [];
    if (w.newRuns.length > 0) {
      name += "r";
      parts.push(`run_inserted AS (
        INSERT INTO baton.runs (${RUN_COLUMN_NAMES.join(", ")})
        SELECT ${RUN_COLUMN_NAMES.join(", ")} FROM jsonb_to_recordset(${param(stringifyJson(w.newRuns.map(runToRow)))}::jsonb) AS r(${RUN_RECORDSET})
        ON CONFLICT DO NOTHING RETURNING id)`);
      outputs.push(`(SELECT coalesce(array_agg(id), '{}') FROM run_inserted) AS runs_inserted`);
      if (options.allRunsNew) {
        name += "!";
        conflicts.push(`(SELECT count(*) FROM run_inserted) <> ${param(w.newRuns.length)} THEN baton.write_conflict('a run exists already')`);
      }
    }
    if (w.runs.length > 0) {
      name += "u";
      const sets = RUN_COLUMN_NAMES.filter((c) => c !== "id").map((c) => `${c} = r.${c}`);
      // The ids again as an array: the planner then finds the rows by index
      // whatever it guesses about the size of the JSON record set.
      parts.push(`run_updated AS (
        UPDATE baton.runs t SET ${sets.join(", ")}, rev = t.rev + 1
        FROM jsonb_to_recordset(${param(stringifyJson(w.runs.map(({ run, rev }) => ({ ...runToRow(run), read_rev: rev }))))}::jsonb) AS r(${RUN_RECORDSET}, read_rev bigint)
        WHERE t.id = r.id AND t.id = ANY(${param(w.runs.map(({ run }) => run.id))}::uuid[]) AND t.rev = r.read_rev RETURNING 1)`);
      conflicts.push(`(SELECT count(*) FROM run_updated) <> ${param(w.runs.length)} THEN baton.write_conflict('a run changed since it was read')`);
    }
    if (w.inserts.length > 0) {
      name += "i";
      parts.push(`inserted AS (
        INSERT INTO baton.tasks (${TASK_COLUMN_NAMES.join(", ")})
        SELECT ${TASK_COLUMN_NAMES.join(", ")} FROM jsonb_to_recordset(${param(stringifyJson(w.inserts.map(taskToRow)))}::jsonb) AS r(${RECORDSET}) RETURNING 1)`);
    }
    if (w.updates.length > 0) {
      name += "t";
      const sets = TASK_COLUMN_NAMES.filter((c) => c !== "id" && c !== "rev").map((c) => `${c} = r.${c}`);
      parts.push(`updated AS (
        UPDATE baton.tasks t SET ${sets.join(", ")}, rev = t.rev + 1
        FROM jsonb_to_recordset(${param(stringifyJson(w.updates.map(taskToRow)))}::jsonb) AS r(${RECORDSET})
        WHERE t.id = r.id AND t.id = ANY(${param(w.updates.map((t) => t.id))}::uuid[]) AND t.rev = r.rev RETURNING 1)`);
      conflicts.push(`(SELECT count(*) FROM updated) <> ${param(w.updates.length)} THEN baton.write_conflict('a task changed since it was read')`);
    }
    if (w.dequeue.length > 0) {
      name += "d";
      parts.push(`dequeued AS (DELETE FROM baton.queue WHERE task_id = ANY(${param(w.dequeue)}::uuid[]) RETURNING 1)`);
    }
    if (w.enqueue.length > 0) {
      name += "e";
      const rows = w.enqueue.map((e) => ({ task_id: e.taskId, task_type: e.taskType, run_id: e.runId, priority: e.priority, visible_at: e.visibleAt, fair_key: e.fairKey ?? "" }));
      for (const e of w.enqueue) if (e.fairKey) this.fair.noteKeyed(e.taskType);
      parts.push(`enqueued AS (
        INSERT INTO baton.queue (task_id, task_type, run_id, priority, visible_at, fair_key)
        SELECT task_id, task_type, run_id, priority, visible_at, fair_key
        FROM jsonb_to_recordset(${param(stringifyJson(rows))}::jsonb) AS r(task_id uuid, task_type text, run_id uuid, priority int, visible_at bigint, fair_key text)
        ON CONFLICT (task_id) DO UPDATE SET visible_at = excluded.visible_at RETURNING 1)`);
    }
    if (w.outbox.length > 0) {
      name += "o";
      parts.push(`outboxed AS (
        INSERT INTO baton.outbox (kind, payload, created_at, taken_until)
        SELECT kind, payload, ${param(w.now)}, ${param(w.outboxHeldUntil)} FROM jsonb_to_recordset(${param(stringifyJson(w.outbox))}::jsonb) AS r(kind text, payload jsonb) RETURNING id)`);
      outputs.push(`(SELECT coalesce(array_agg(id), '{}') FROM outboxed) AS outbox_ids`);
    }
    if (w.events.length > 0) {
      name += "p";
      parts.push(`published AS (
        INSERT INTO baton.events (sink, name, payload, created_at)
        SELECT sink, name, payload, ${param(w.now)} FROM jsonb_to_recordset(${param(stringifyJson(w.events))}::jsonb) AS r(sink text, name text, payload jsonb) RETURNING 1)`);
      notices.push(`SELECT pg_notify('baton_events', '')`);
    }
    if (w.notifyTaskTypes.length > 0) {
      name += "n";
      notices.push(`SELECT pg_notify('baton_tasks', ${param(w.notifyTaskTypes.join("\n"))})`);
    }
    if (w.notifyRunsEnded.length > 0) {
      name += "x";
      notices.push(`SELECT pg_notify('baton_runs', id) FROM unnest(${param(w.notifyRunsEnded)}::text[]) AS id`);
    }
    // A SELECT in a WITH runs only when read: the notices are counted.
    if (notices.length > 0) {
      parts.push(`notified AS (${notices.join(" UNION ALL ")})`);
      outputs.push(`(SELECT count(*) FROM notified) AS notified`);
    }
    if (parts.length === 0) return { outboxIds: [], insertedRuns: new Set() };
    if (conflicts.length > 0) outputs.push(`CASE ${conflicts.map((c) => `WHEN ${c}`).join(" ")} END AS conflict`);
    const { rows } = await q.query({ name, text: `WITH ${parts.join(",\n")}\nSELECT ${outputs.length > 0 ? outputs.join(", ") : "1"}`, values });
    const row = rows[0] as { runs_inserted?: string[]; outbox_ids?: number[] };
    return { outboxIds: (row.outbox_ids ?? []).map(Number), insertedRuns: new Set(row.runs_inserted ?? []) };
  }

  // ---- tasks ----------------------------------------------------------------



  async deleteTasks(tx: pg.ClientBase, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await tx.query("DELETE FROM baton.queue WHERE task_id = ANY($1::uuid[])", [ids]);
    await tx.query("DELETE FROM baton.tasks WHERE id = ANY($1::uuid[])", [ids]);
  }

  // ---- the queue ------------------------------------------------------------



  /**
   * Hands up to `count` ready tasks of `taskType` to a worker: takes their
   * queue rows (SKIP LOCKED, so claimers never wait on each other) and marks
   * the tasks IN_PROGRESS under a fresh lease, in one statement. A type with
   * a concurrency or rate limit is claimed under a per-type lock so replicas
   * cannot overshoot the limit together.
   */
  async claim(taskType: string, count: number, workerId: string, now: number, newToken: () => string, limits: ClaimLimits = {}): Promise<TaskState[]> {
    const limited = (limits.concurrentExecLimit ?? 0) > 0 || ((limits.rateLimitPerFrequency ?? 0) > 0 && (limits.rateLimitFrequencyInSeconds ?? 0) > 0);
    if (!limited) return this.claimRows(this.pool, taskType, count, workerId, now, newToken);
    return this.tx(async (tx) => {
      await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`baton-claim:${taskType}`]);
      let allowed = count;
      if ((limits.concurrentExecLimit ?? 0) > 0) {
        const { rows } = await tx.query("SELECT count(*)::int AS n FROM baton.tasks WHERE def_name = $1 AND status = 'IN_PROGRESS'", [taskType]);
        allowed = Math.min(allowed, limits.concurrentExecLimit! - (rows[0]?.n as number));
      }
      const per = limits.rateLimitPerFrequency ?? 0;
      const windowMs = (limits.rateLimitFrequencyInSeconds ?? 0) * 1000;
      const windowStart = per > 0 && windowMs > 0 ? Math.floor(now / windowMs) * windowMs : 0;
      if (windowStart) {
        const { rows } = await tx.query(
          `INSERT INTO baton.rate_windows (task_type, window_start, used) VALUES ($1, $2, 0)
           ON CONFLICT (task_type, window_start) DO UPDATE SET used = baton.rate_windows.used RETURNING used`,
          [taskType, windowStart],
        );
        allowed = Math.min(allowed, per - (rows[0]?.used as number));
      }
      if (allowed <= 0) return [];
      const claimed = await this.claimRows(tx, taskType, allowed, workerId, now, newToken);
      if (windowStart && claimed.length > 0) {
        await tx.query("UPDATE baton.rate_windows SET used = used + $3 WHERE task_type = $1 AND window_start = $2", [taskType, windowStart, claimed.length]);
        await tx.query("DELETE FROM baton.rate_windows WHERE task_type = $1 AND window_start < $2", [taskType, windowStart]);
      }
      return claimed;
    });
  }

  private async claimRows(q: pg.Pool | pg.ClientBase, taskType: string, count: number, workerId: string, now: number, newToken: () => string): Promise<TaskState[]> {
    const tokens = Array.from({ length: count }, newToken);
    // A type with rows of keyed runs is claimed round-robin across keys (see fair-claim.ts).
    if (await this.fair.isKeyed(q, taskType)) return this.claimFairRows(q, taskType, count, workerId, now, tokens);
    const { rows } = await q.query({
      name: "baton-claim",
      text: `WITH picked AS (
         DELETE FROM baton.queue WHERE task_id IN (
           SELECT task_id FROM baton.queue
           WHERE task_type = $1 AND visible_at <= $2
           ORDER BY priority DESC, visible_at, seq
           LIMIT $3 FOR UPDATE SKIP LOCKED)
         RETURNING task_id),
       ${CLAIM_UPDATE}
       RETURNING t.*`,
      values: [taskType, now, count, workerId, tokens],
    });
    return rows.map(rowToTask);
  }

  private async claimFairRows(q: pg.Pool | pg.ClientBase, taskType: string, count: number, workerId: string, now: number, tokens: string[]): Promise<TaskState[]> {
    const { rows } = await q.query({
      name: "baton-claim-fair",
      text: `WITH RECURSIVE ${this.fair.pickStatement("$6", "$7")},
       ${CLAIM_UPDATE}
       RETURNING t.*, (SELECT last FROM window_end) AS window_last, (SELECT n FROM window_end) AS window_n`,
      values: [taskType, now, count, workerId, tokens, this.fair.cursor(taskType), String(Math.random())],
    });
    this.fair.advance(taskType, (rows[0]?.window_last as string | null) ?? null, Number(rows[0]?.window_n ?? 0));
    return rows.map(rowToTask);
  }

  /** Puts a task handed to a worker that left back in the queue, if its lease is still that one. */
  async requeue(taskId: string, token: string): Promise<void> {
    await this.pool.query(
      `WITH t AS (
         UPDATE baton.tasks SET status = 'SCHEDULED', lease_token = '', lease_expires_at = 0, worker_id = '', rev = rev + 1
         WHERE id = $1 AND lease_token = $2 AND status = 'IN_PROGRESS'
         RETURNING id, def_name, run_id, visible_at)
       INSERT INTO baton.queue (task_id, task_type, run_id, priority, visible_at, fair_key)
       SELECT t.id, t.def_name, t.run_id, r.priority, t.visible_at, coalesce(r.extra->>'fairKey', '') FROM t JOIN baton.runs r ON r.id = t.run_id
       ON CONFLICT (task_id) DO NOTHING`,
      [taskId, token],
    );
  }

  /** Pushes the lease of a running task; undefined when the token is stale. */
  async extendLease(taskId: string, token: string, seconds: number, now: number): Promise<number | undefined> {
    const { rows } = await this.pool.query(
      `UPDATE baton.tasks SET
         lease_expires_at = CASE WHEN timeout_seconds > 0
           THEN least($3 + (CASE WHEN $4 > 0 THEN $4 ELSE response_timeout_seconds END) * 1000::bigint, started_at + timeout_seconds * 1000::bigint)
           ELSE $3 + (CASE WHEN $4 > 0 THEN $4 ELSE response_timeout_seconds END) * 1000::bigint END,
         updated_at = $3, rev = rev + 1
       WHERE id = $1 AND lease_token = $2 AND status = 'IN_PROGRESS'
       RETURNING lease_expires_at`,
      [taskId, token, now, seconds],
    );
    return rows[0]?.lease_expires_at as number | undefined;
  }

  async queueDepths(now: number): Promise<{ taskType: string; ready: number; delayed: number; inProgress: number }[]> {
    const { rows } = await this.pool.query(
      `WITH q AS (
         SELECT task_type, count(*) FILTER (WHERE visible_at <= $1) AS ready, count(*) FILTER (WHERE visible_at > $1) AS delayed
         FROM baton.queue GROUP BY task_type),
       p AS (SELECT def_name AS task_type, count(*) AS in_progress FROM baton.tasks
             WHERE status = 'IN_PROGRESS' AND lease_expires_at > 0 GROUP BY def_name)
       SELECT coalesce(q.task_type, p.task_type) AS task_type, coalesce(ready, 0) AS ready, coalesce(delayed, 0) AS delayed,
              coalesce(in_progress, 0) AS in_progress
       FROM q FULL JOIN p ON p.task_type = q.task_type ORDER BY 1`,
      [now],
    );
    return rows.map((r) => ({ taskType: r.task_type, ready: r.ready, delayed: r.delayed, inProgress: r.in_progress }));
  }

  // ---- timers -----------------------------------------------------------------

  /** Runs with a timer due, or a running task whose lease ran out. */
  async dueRuns(now: number, limit: number): Promise<string[]> {
    const { rows } = await this.pool.query(
      `(SELECT id FROM baton.runs WHERE wake_at > 0 AND wake_at <= $1 ORDER BY wake_at LIMIT $2)
       UNION
       (SELECT run_id FROM baton.tasks WHERE status = 'IN_PROGRESS' AND lease_expires_at > 0 AND lease_expires_at <= $1
        ORDER BY lease_expires_at LIMIT $2)`,
      [now, limit],
    );
    return rows.map((r) => r.id as string);
  }

  // ---- outbox ---------------------------------------------------------------


  /**
   * Takes one outbox item (the given one, or the oldest due) for `leaseMs`:
   * no other replica takes it meanwhile. No connection is held while the
   * effect is carried out; `finishOutbox` deletes it afterwards.
   */
  async takeOutbox(now: number, leaseMs: number, id?: number): Promise<OutboxItem | undefined> {
    // An item given by id is the caller's own (it wrote it and holds it); any other must be free.
    const { rows } = await this.pool.query(
      `UPDATE baton.outbox SET taken_until = $1 + $2::bigint WHERE id = (
         SELECT id FROM baton.outbox WHERE ${id === undefined ? "taken_until <= $1" : "id = $3"}
         ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED)
       RETURNING id, kind, payload`,
      id === undefined ? [now, leaseMs] : [now, leaseMs, id],
    );
    return rows[0] as OutboxItem | undefined;
  }

  async finishOutbox(id: number): Promise<void> {
    await this.pool.query("DELETE FROM baton.outbox WHERE id = $1", [id]);
  }

  // ---- logs and events ----------------------------------------------------------

  async addTaskLog(taskId: string, message: string, now: number): Promise<void> {
    await this.pool.query("INSERT INTO baton.task_logs (task_id, created_at, message) VALUES ($1, $2, $3)", [taskId, now, message]);
  }

  async taskLogs(taskId: string): Promise<{ message: string; createdAt: number }[]> {
    const { rows } = await this.pool.query("SELECT message, created_at FROM baton.task_logs WHERE task_id = $1 ORDER BY created_at", [taskId]);
    return rows.map((r) => ({ message: r.message, createdAt: r.created_at }));
  }

}
