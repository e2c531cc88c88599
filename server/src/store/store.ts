// The one door into Baton's state. `Store` below lists every operation on
// PostgreSQL, by family, on one screen; each family's SQL is in a file of its
// own beside this one (definitions.ts, queue.ts, write-batch.ts, ...), and
// the rest of the server talks to this interface — or to the few operations
// it needs, as `Pick<Store, ...>` — never to a pool. Every event is one
// transaction that locks its run row; claims take queue rows with SKIP LOCKED.
import type { TaskDef, WorkflowDef } from "@baton/sdk";
import type pg from "pg";
import type { RunState, TaskState, WorkflowStatus } from "../decider/model.js";
import { DEFAULT_LIMITS } from "../limits.js";
import type { Route } from "../routes/route.js";
import * as apiKeys from "./api-keys.js";
import * as concurrency from "./concurrency.js";
import { openPool, transaction, type DbErrorHook, type Queryable, type Tx } from "./db.js";
import * as definitions from "./definitions.js";
import { dueRuns } from "./due-runs.js";
import * as eventBus from "./event-bus.js";
import * as eventHandlers from "./event-handlers.js";
import { FairClaims, type HandOffRoom } from "./fair-claim.js";
import * as health from "./health.js";
import { PrimaryLocator } from "./hosts.js";
import { migrate, type Migrated } from "./migrations.js";
import { checkPostgresVersion } from "./postgres-version.js";
import { announceRunsMoved } from "./notifications.js";
import * as outbox from "./outbox.js";
import * as queue from "./queue.js";
import * as replicas from "./replicas.js";
import * as retention from "./retention.js";
import * as routes from "./routes.js";
import { inRunBatch, type BatchTargets, type LoadedRuns } from "./run-batches.js";
import { countRunsByStatus, type CountFilter } from "./run-counts.js";
import { runTreeSnapshot, type RunTreeSnapshot } from "./run-snapshot.js";
import { takeTreeRuns, type TreeStart } from "./run-trees.js";
import * as runs from "./runs.js";
import * as schedules from "./schedules.js";
import * as taskLogs from "./task-logs.js";
import * as tasks from "./tasks.js";
import { taskLease, type TaskLease } from "./task-lookup.js";
import { CoalescedRead, CoalescedReads } from "./coalesced-read.js";
import type { Measured } from "./measured-rows.js";
import { writeBatch, type BatchWrite, type BatchWritten, type QueueEntry } from "./write-batch.js";

export { isConnectionError, type Queryable, type Tx } from "./db.js";
export type { ApiKeyRow } from "./api-keys.js";
export type { StoredWorkflowDef, VersionChoice, WorkflowDefListing } from "./definitions.js";
export { VersionRouted } from "./definitions.js";
export type { TakenEvent } from "./event-bus.js";
export type { StoredHandler } from "./event-handlers.js";
export type { HandOffRoom } from "./fair-claim.js";
export type { OpenTransaction } from "./health.js";
export type { OutboxItem } from "./outbox.js";
export type { ClaimedRun, ClaimedTask, ClaimLimits, QueueDepth, QueueDepthPage } from "./queue.js";
export type { BatchTargets, LoadedRun, LoadedRuns, RunTarget } from "./run-batches.js";
export { rowToRun, rowToTask } from "./rows.js";
export type { CountFilter } from "./run-counts.js";
export type { QueueRow, RunRow, RunningTask, RunTreeSnapshot } from "./run-snapshot.js";
export type { AsText, SearchQuery } from "./runs.js";
export type { ReplicaPresence } from "./replicas.js";
export type { PurgeFilter } from "./retention.js";
export { RevisionMoved, type RouteChangeRecord, type RouteUpdate, type VersionCounts } from "./routes.js";
export type { NewSchedule, ScheduleChange, ScheduleFailed, ScheduleFire, ScheduleProgress, ScheduleRow } from "./schedules.js";
export type { TaskLogLine } from "./task-logs.js";
export type { TaskLease } from "./task-lookup.js";
export type { BatchWrite, BatchWritten, OutboxEntry, OutboxWritten, QueueEntry } from "./write-batch.js";

type Run = { run: RunState; tasks: TaskState[] };

export interface Store {
  // ---- the database
  /** Refuses a PostgreSQL older than Baton runs on (store/postgres-version.ts), then applies pending migrations (ordered, under an advisory lock): how many ran, and those applied by a newer server that this one may run beside (it refuses the others). */
  migrate(): Promise<Migrated>;
  close(): Promise<void>;
  /** Where connections go (the primary of several hosts). */
  readonly locator: PrimaryLocator;

  // ---- run batches (runtime/): the batch's transaction, its write
  /** Locks the targeted runs in id order, loads them and their tasks, runs `fn` and commits. */
  inRunBatch<T>(targets: BatchTargets, options: { skipLocked?: boolean }, fn: (tx: Tx, loaded: LoadedRuns) => Promise<T>): Promise<T>;
  /** A batch decided from memory, nothing read or locked: `fn`'s statements (its one write, which fails whole when a row moved) outside a transaction. */
  inUnlockedBatch<T>(fn: (q: Queryable) => Promise<T>): Promise<T>;
  /** Everything a batch decided, as one statement that fails whole when a row moved. */
  writeBatch(q: Queryable, w: BatchWrite, options?: { allRunsNew?: boolean }): Promise<BatchWritten>;
  tx<T>(fn: (tx: Tx) => Promise<T>): Promise<T>;

  // ---- definitions
  /** Stores a body under its hash; `contentHash` when known (computed otherwise). */
  putDef(q: Queryable, hash: string, def: WorkflowDef, contentHash?: string): Promise<void>;
  defByHash(hash: string, q?: Queryable): Promise<WorkflowDef | undefined>;
  /** A version of a workflow, or its latest; `q`: the transaction it is read in. */
  workflowDef(q: Queryable, name: string, version?: number): Promise<definitions.StoredWorkflowDef | undefined>;
  findWorkflowDef(name: string, version?: number): Promise<definitions.StoredWorkflowDef | undefined>;
  /** Registers a version under a lock on the name; `choose` says what, given the latest. Notifies at commit. */
  registerWorkflowVersion(
    name: string,
    now: number,
    choose: (latest: definitions.LatestVersion | undefined) => definitions.VersionChoice,
  ): Promise<{ version: number; changed: boolean; admitted: number } | undefined>;
  /** The latest version of a workflow and its content hash, without its body (but for one stored before content hashes were). */
  latestVersion(name: string): Promise<definitions.LatestVersion | undefined>;
  /** A page of versions by name, then version from the newest (bodies not read). */
  listWorkflowDefs(name: string, allVersions: boolean, page: definitions.KeysetPage<[string] | [string, number]>): Promise<definitions.WorkflowDefListing[]>;
  /** Stored definitions by hash. */
  defsByHash(hashes: string[]): Promise<Map<string, WorkflowDef>>;
  /** Fills in summaries of bodies stored before they were kept. */
  putDefSummaries(summaries: Map<string, definitions.DefSummary>): Promise<void>;
  /** The registered versions of a workflow name, in order. */
  workflowVersions(name: string): Promise<number[]>;
  /** Names whose body changed; notifies at commit. */
  putTaskDefs(defs: TaskDef[], now: number): Promise<string[]>;
  taskDefs(q: Queryable, names: string[]): Promise<Map<string, TaskDef>>;
  /** The latest version left, or undefined when there was no such version; throws VersionRouted while a route uses it. Notifies at commit. */
  deleteWorkflowVersion(name: string, version: number): Promise<{ latest: number } | undefined>;
  /** False when there was none; notifies at commit. */
  deleteTaskDef(name: string): Promise<boolean>;
  findTaskDefs(names: string[]): Promise<Map<string, TaskDef>>;
  /** A page of task definitions by name. */
  /** Those that start within `room` bytes (measured-rows.ts). */
  listTaskDefs(page: definitions.KeysetPage<[string]>, room: number): Promise<Measured<TaskDef>>;

  // ---- runs and tasks
  getRun(runId: string, withTasks: boolean, q?: Queryable): Promise<Run | undefined>;
  /** A run and its tasks to show (the console's watch): JSON payloads as the database's text, unparsed. */
  runToView(runId: string): Promise<runs.RunView | undefined>;
  /** A stamp that moves whenever the run or any of its tasks is written; undefined when the run is gone (runs.ts). */
  runStamp(runId: string): Promise<string | undefined>;
  runIdByIdempotencyKey(key: string): Promise<string | undefined>;
  /** A run's status; undefined when it is gone or `runId` is empty. `q`: the transaction it is read in. */
  runStatus(runId: string, q?: Queryable): Promise<string | undefined>;
  search(query: runs.SearchQuery): Promise<{ runs: RunState[]; more: boolean }>;
  /** Stopped by PostgreSQL past `limitMs` (as queueDepths): a scrape waits no longer for it. */
  runsInFlight(limitMs: number): Promise<{ status: WorkflowStatus; count: number }[]>;
  /** What a run and its sub-workflow runs wait for (timers, queued and running tasks, the outbox): for test drivers. */
  runTreeSnapshot(runId: string): Promise<RunTreeSnapshot>;
  /** Runs per status for a filter, each count stopping at `cap` (cheap where the filter's runs are found by an index). */
  countRunsByStatus(statuses: string[], filter: CountFilter, cap: number): Promise<Map<string, number>>;
  /** How many searches and counts of runs run at once: they have connections of their own. */
  readonly searchConnections: number;
  runIdOfTask(taskId: string): Promise<string | undefined>;
  /** One task of a run, with the run; undefined when the run has no such task. */
  runTask(runId: string, taskId: string): Promise<{ run: RunState; task: TaskState } | undefined>;
  taskTypeOf(taskId: string): Promise<string | undefined>;
  /** A task's run, type and current lease (an API that names tasks by id alone). */
  taskLease(taskId: string): Promise<TaskLease | undefined>;
  deleteTasks(tx: pg.ClientBase, ids: string[]): Promise<void>;

  // ---- per-key limits of running runs (concurrency.ts)
  /** Takes a slot of a workflow's key for a run starting in `tx`. */
  takeSlot(tx: Queryable, workflow: string, key: string, limit: number, strategy: concurrency.Strategy, runId: string): Promise<concurrency.SlotOutcome>;

  // ---- runs started per run tree (run-trees.ts)
  /** Counts runs starting in `tx` in their trees; false for each its tree's bound refuses. */
  takeTreeRuns(tx: Queryable, starts: readonly TreeStart[], bound: number): Promise<boolean[]>;

  // ---- the queue and leases
  /** Whether this replica knows of keyed tasks of the type waiting in the queue (claims then leave the slots streams keep for quiet keys). */
  fairBacklog(taskType: string): boolean;
  /** Which free worker slots a task of the type and fairness key made ready here may be handed over at commit to, given the keyed tasks this replica knows wait in the queue. */
  handOffRoom(taskType: string, key: string, priority: number): HandOffRoom;
  /** Whether a key of the type waits whose whole backlog (as this replica queued it) fits in `room` slots kept for quiet keys: claims may take those for it. */
  fitsQuietRoom(taskType: string, room: number): boolean;
  /** Queue rows this replica wrote have committed: their keys take turns in fair claims from now on. */
  noteQueued(entries: readonly QueueEntry[]): void;
  /** Tasks leased to the worker, each with what the worker is told of its run; `quiet` of `count` are slots kept for quiet keys (queue.claim). */
  claim(
    taskType: string,
    count: number,
    workerId: string,
    now: number,
    newToken: () => string,
    limits?: queue.ClaimLimits,
    quiet?: number,
  ): Promise<queue.ClaimedTask[]>;
  requeue(taskId: string, token: string): Promise<void>;
  /** The new deadline; undefined when the token is stale. */
  extendLease(taskId: string, token: string, seconds: number, now: number): Promise<number | undefined>;
  queueDepths(now: number, limitMs: number): Promise<queue.QueueDepth[]>;
  /** A page of queue depths in task type order; `next` to read the page after it, when one follows. */
  queueDepthPage(now: number, page: queue.QueueDepthPage): Promise<{ depths: queue.QueueDepth[]; next?: string }>;
  /** The task types (of `among`, or all) with a task ready in the queue at `now` (the dispatcher's sweep). */
  readyTaskTypes(now: number, among?: readonly string[]): Promise<string[]>;

  // ---- timers and the outbox
  dueRuns(now: number, limit: number): Promise<string[]>;
  /** Takes the given item, or the oldest free one (of `kind`, when given). */
  takeOutbox(now: number, leaseMs: number, id?: number, kind?: string): Promise<outbox.OutboxItem | undefined>;
  takeOutboxItems(now: number, leaseMs: number, ids: number[]): Promise<outbox.OutboxItem[]>;
  /** Deletes carried-out outbox items, in one statement. */
  finishOutbox(ids: number[]): Promise<void>;

  // ---- replicas (the console's view of every replica)
  /** Writes this replica's presence and returns the other replicas beaten since `freshSince`; drops those gone before `goneBefore`. */
  beatReplica(mine: replicas.ReplicaPresence, freshSince: number, goneBefore: number): Promise<replicas.ReplicaPresence[]>;
  leaveReplicas(replica: string): Promise<void>;
  /** Tells the replicas whose viewers watch that runs moved here (undefined: any may have). */
  announceRunsMoved(replica: string, runIds: string[] | undefined): Promise<void>;

  // ---- routes (routes.ts): which version a start that names none gets
  route(name: string): Promise<Route | undefined>;
  listRoutes(): Promise<Route[]>;
  /** Routes with a guard that may roll them back. */
  guardedRoutes(): Promise<Route[]>;
  /** Locks the name, hands the current route to `update`, writes the result and its history entry; notifies at commit. Throws RevisionMoved when `expectedRevision` (> 0) is stale. */
  changeRoute(
    name: string,
    actor: string,
    now: number,
    update: routes.RouteUpdate,
    expectedRevision?: number,
  ): Promise<{ route: Route; changed: boolean } | undefined>;
  /** False when there was none; notifies at commit. */
  deleteRoute(name: string, actor: string, now: number): Promise<boolean>;
  routeHistory(name: string, limit: number): Promise<routes.RouteChangeRecord[]>;
  /** The version a sticky key keeps while it is routed; else `proposed`, recorded. */
  stickyVersion(name: string, keyHash: string, proposed: number, routed: readonly number[]): Promise<number>;
  /** Runs of `name` started since `since`, per version: counts by status and duration percentiles. */
  versionCounts(name: string, since: number): Promise<routes.VersionCounts[]>;
  /** The same counts for each of `names`, in one statement. */
  versionCountsOf(names: readonly string[], since: number): Promise<Map<string, routes.VersionCounts[]>>;
  /** The same counts on the connections of searches (where PostgreSQL stops a statement past the search limit). */
  searchedVersionCounts(name: string, since: number): Promise<routes.VersionCounts[]>;

  // ---- schedules (schedules.ts)
  schedule(name: string): Promise<schedules.ScheduleRow | undefined>;
  /** A page of schedules by name, all or a workflow's (`workflowName` not empty). */
  listSchedules(workflowName: string, page: { after?: string; limit: number }, room: number): Promise<Measured<schedules.ScheduleRow>>;
  /** False when the name is taken. */
  insertSchedule(row: schedules.NewSchedule): Promise<boolean>;
  /** Applies `fn` to the locked row; undefined when there is no such schedule. */
  changeSchedule(name: string, fn: schedules.ScheduleChange, now: number): Promise<schedules.ScheduleRow | undefined>;
  deleteSchedule(name: string): Promise<boolean>;
  /** Locks up to `limit` due schedules (SKIP LOCKED), fires each in that transaction and writes its progress; how many. */
  fireDueSchedules(now: number, limit: number, fire: schedules.ScheduleFire, failed: schedules.ScheduleFailed): Promise<number>;

  // ---- retention (retention.ts): removing ended runs
  /** One batch in one short transaction; `keep` is given the runs' export lines before they are deleted, and its failure removes nothing. */
  removeEndedRuns(
    f: retention.PurgeFilter,
    limit: retention.BatchLimit,
    keep?: (lines: AsyncIterable<string>) => Promise<void>,
  ): Promise<{ runs: number; tasks: number; more: boolean }>;
  countEndedRuns(f: retention.PurgeFilter): Promise<{ runs: number; tasks: number }>;
  /** The end time of the oldest ended run stored (epoch ms), or 0. */
  oldestEndedRun(): Promise<number>;
  /** Workflows whose latest version sets its own retention (seconds). */
  retentionOverrides(): Promise<Map<string, number>>;
  /** Removes up to `limit` concurrency key rows with no run running or waiting; how many went. */
  removeIdleConcurrencyKeys(limit: number): Promise<number>;

  // ---- task logs
  addTaskLogs(taskId: string, messages: string[], now: number, cap: taskLogs.TaskLogCap): Promise<number>;
  taskLogPage(taskId: string, after: number, limit: number, maxBytes: number): Promise<taskLogs.TaskLogPage>;

  // ---- event handlers and the event bus
  /** False when nothing changed; throws TooManyHandlers when its event has `maxPerEvent` other handlers. */
  putEventHandler(h: eventHandlers.StoredHandler, now: number, maxPerEvent: number): Promise<boolean>;
  getEventHandler(name: string): Promise<eventHandlers.StoredHandler | undefined>;
  listEventHandlers(filter: eventHandlers.HandlerFilter, room: number): Promise<Measured<eventHandlers.StoredHandler>>;
  /** The active handlers of each of `events`, at most `limit` each (what the consumer applies), by event name. */
  activeEventHandlers(events: string[], limit: number): Promise<Map<string, eventHandlers.StoredHandler[]>>;
  deleteEventHandler(name: string): Promise<boolean>;
  /**
   * `publisher`: the publishing key's id ("" without one); events are taken in turn by it.
   * Throws TooManyEventsWaiting, storing nothing, when it has `maxWaiting` events not yet handled.
   */
  publishEvent(name: string, payloadJson: string, now: number, publisher: string, maxWaiting: number): Promise<{ id: number; activeHandlers: number }>;
  takeEvents(now: number, leaseMs: number, limit: number): Promise<eventBus.TakenEvent[]>;
  finishEvents(events: Pick<eventBus.TakenEvent, "id" | "publisher" | "shard">[]): Promise<void>;
  /** The events a run's marks record actions of (eventActions) that have since been handled: gone from the bus for good. */
  finishedEventsOf(runId: string): Promise<number[]>;

  // ---- API keys
  insertApiKey(key: Omit<apiKeys.ApiKeyRow, "revokedAt">): Promise<apiKeys.ApiKeyRow>;
  listApiKeys(includeRevoked: boolean): Promise<apiKeys.ApiKeyRow[]>;
  findApiKey(id: string): Promise<apiKeys.ApiKeyRow | undefined>;
  revokeApiKey(id: string, now: number): Promise<{ found: boolean; revoked: boolean }>;
  hasActiveAdmin(): Promise<boolean>;

  // ---- health (on a connection of its own with short timeouts: a dead database answers fast)
  schemaVersion(): Promise<number>;
  openTransactions(limit: number): Promise<health.OpenTransaction[]>;
}

export interface StoreOptions {
  /**
   * Connections the store's three pools hold at most, together (default
   * 20, at least 3): half (the odd one too) for claims, batch writes and
   * leases; one in ten (at least one) for searches and counts of runs; the
   * rest for reads (see poolSizesOf). Health checks and the notification
   * listener take one more each.
   */
  poolSize?: number;
  applicationName?: string;
  /** Told of every failed connect and statement. */
  onDbError?: DbErrorHook;
  /** How long a health check may take. */
  healthTimeoutMs?: number;
  /** How long PostgreSQL lets one statement of a search or count of runs run before stopping it (default Limits.searchMs). */
  searchLimitMs?: number;
}

/** StoreOptions.poolSize when none is given: 10 for writes, 8 for reads, 2 for searches. */
export const DEFAULT_POOL_SIZE = 20;

/**
 * How StoreOptions.poolSize is split. Searches and counts of runs get few
 * connections on purpose: each is held by one statement at a time, searches
 * the indexes answer take milliseconds, and one the indexes do not answer
 * holds only these (search-lane.ts).
 */
export function poolSizesOf(size: number): { writes: number; reads: number; searches: number } {
  const searches = Math.max(1, Math.floor(size / 10));
  const writes = Math.min(Math.ceil(size / 2), size - searches - 1);
  return { writes, reads: size - writes - searches, searches };
}

/** The PostgreSQL implementation: each operation is its family's function on this store's pool. */
class PgStore implements Store {
  readonly locator: PrimaryLocator;
  readonly pool: pg.Pool;
  /** Searches and counts of runs, whose cost is however many rows a caller's filter touches (see searchConnections). */
  private readonly searchPool: pg.Pool;
  readonly searchConnections: number;
  /** Claims, batch writes and leases: fixed statements keyed by id, planned once per connection (see PoolOptions.genericPlans). */
  private readonly writePool: pg.Pool;
  private healthPool: pg.Pool | undefined;
  /** Which task types have keyed queue rows, and where each one's round robin stands. */
  readonly fair = new FairClaims();

  constructor(
    connectionString: string,
    private readonly options: StoreOptions = {},
  ) {
    this.locator = new PrimaryLocator(connectionString);
    const size = options.poolSize ?? DEFAULT_POOL_SIZE;
    if (!Number.isInteger(size) || size < 3) throw new Error(`poolSize must be a whole number of at least 3 (one connection per pool), not ${size}`);
    const sizes = poolSizesOf(size);
    const pool = {
      ...(options.applicationName ? { applicationName: options.applicationName } : {}),
      ...(options.onDbError ? { onError: options.onDbError } : {}),
    };
    this.pool = openPool(this.locator, { ...pool, size: sizes.reads });
    this.searchConnections = sizes.searches;
    this.searchPool = openPool(this.locator, {
      ...pool,
      size: sizes.searches,
      statementLimitMs: options.searchLimitMs ?? DEFAULT_LIMITS.searchMs,
      idleTimeoutMs: 30_000,
    });
    this.writePool = openPool(this.locator, { ...pool, size: sizes.writes, genericPlans: true });
  }

  async migrate(): Promise<Migrated> {
    await this.locator.refresh();
    const client = await this.pool.connect();
    try {
      await checkPostgresVersion(client);
      return await migrate(client);
    } finally {
      client.release();
    }
  }

  async close(): Promise<void> {
    await this.healthPool?.end().catch(() => {});
    await this.writePool.end();
    await this.searchPool.end();
    await this.pool.end();
  }

  private health(): pg.Pool {
    const timeoutMs = this.options.healthTimeoutMs ?? 2000;
    this.healthPool ??= openPool(this.locator, {
      size: 1,
      applicationName: "baton-health",
      timeoutMs,
      statementTimeoutMs: timeoutMs,
      idleTimeoutMs: 30_000,
      ...(this.options.onDbError ? { onError: this.options.onDbError } : {}),
    });
    return this.healthPool;
  }

  inRunBatch<T>(targets: BatchTargets, options: { skipLocked?: boolean }, fn: (tx: Tx, loaded: LoadedRuns) => Promise<T>) {
    return inRunBatch(this.writePool, targets, options, fn);
  }
  inUnlockedBatch<T>(fn: (q: Queryable) => Promise<T>) {
    return fn(this.writePool);
  }
  writeBatch = (q: Queryable, w: BatchWrite, options: { allRunsNew?: boolean } = {}) => writeBatch(q, w, options);
  tx<T>(fn: (tx: Tx) => Promise<T>) {
    return transaction(this.pool, fn);
  }

  putDef = definitions.putDef;
  defByHash = (hash: string, q: Queryable = this.pool) => definitions.defByHash(q, hash);
  workflowDef = definitions.workflowDef;
  findWorkflowDef = (name: string, version?: number) => definitions.workflowDef(this.pool, name, version);
  registerWorkflowVersion: Store["registerWorkflowVersion"] = (name, now, choose) => definitions.registerWorkflowVersion(this.pool, name, now, choose);
  latestVersion: Store["latestVersion"] = (name) => definitions.latestVersion(this.pool, name);
  listWorkflowDefs: Store["listWorkflowDefs"] = (name, allVersions, page) => definitions.listWorkflowDefs(this.pool, name, allVersions, page);
  defsByHash = (hashes: string[]) => definitions.defsByHash(this.pool, hashes);
  putDefSummaries = (summaries: Map<string, definitions.DefSummary>) => definitions.putDefSummaries(this.pool, summaries);
  workflowVersions = (name: string) => definitions.workflowVersions(this.pool, name);
  putTaskDefs = (defs: TaskDef[], now: number) => definitions.putTaskDefs(this.pool, defs, now);
  taskDefs = definitions.taskDefs;
  deleteWorkflowVersion = (name: string, version: number) => definitions.deleteWorkflowVersion(this.pool, name, version);
  deleteTaskDef = (name: string) => definitions.deleteTaskDef(this.pool, name);
  findTaskDefs = (names: string[]) => definitions.taskDefs(this.pool, names);
  listTaskDefs = (page: definitions.KeysetPage<[string]>, room: number) => definitions.listTaskDefs(this.pool, page, room);

  getRun = (runId: string, withTasks: boolean, q: Queryable = this.pool) => runs.getRun(q, runId, withTasks);
  /** Callers viewing one run at once (watchers, readers of a run of thousands of tasks) share one read of it. */
  private readonly views = new CoalescedReads<Awaited<ReturnType<typeof runs.runToView>>>();
  runToView = (runId: string) => this.views.get(runId, () => runs.runToView(this.pool, runId));
  runStamp = (runId: string) => runs.runStamp(this.pool, runId);
  runIdByIdempotencyKey = (key: string) => runs.runIdByIdempotencyKey(this.pool, key);
  runStatus = (runId: string, q: Queryable = this.pool) => runs.runStatus(q, runId);
  search = (query: runs.SearchQuery) => runs.searchRuns(this.searchPool, query);
  runsInFlight = (limitMs: number) => this.limited(limitMs, (tx) => runs.runsInFlight(tx));
  /**
   * `read` in a transaction whose statements PostgreSQL stops past `limitMs`: the gauges' counts read every run in flight
   * and every queued task, and a scrape that stopped waiting for one left it running on a connection of the reads pool.
   */
  private limited<T>(limitMs: number, read: (tx: Tx) => Promise<T>): Promise<T> {
    return transaction(this.pool, async (tx) => {
      await tx.query(`SET LOCAL statement_timeout = ${Math.max(1, Math.round(limitMs))}`);
      return read(tx);
    });
  }
  runTreeSnapshot = (runId: string) => runTreeSnapshot(this.pool, runId);
  countRunsByStatus = (statuses: string[], filter: CountFilter, cap: number) => countRunsByStatus(this.searchPool, statuses, filter, cap);
  runIdOfTask = (taskId: string) => tasks.runIdOfTask(this.pool, taskId);
  runTask = (runId: string, taskId: string) => tasks.runTask(this.pool, runId, taskId);
  taskTypeOf = (taskId: string) => tasks.taskTypeOf(this.pool, taskId);
  taskLease = (taskId: string) => taskLease(this.pool, taskId);
  deleteTasks = tasks.deleteTasks;

  takeSlot = concurrency.takeSlot;
  takeTreeRuns = takeTreeRuns;

  fairBacklog = (taskType: string) => this.fair.backlogged(taskType);
  handOffRoom = (taskType: string, key: string, priority: number) => this.fair.handOffRoom(taskType, key, priority);
  fitsQuietRoom = (taskType: string, room: number) => this.fair.fitsQuietRoom(taskType, room);
  noteQueued = (entries: readonly QueueEntry[]) => {
    for (const e of entries) this.fair.noteQueued(e.taskType, e.fairKey ?? "", e.fairWeight ?? 1, e.priority);
  };
  claim: Store["claim"] = (taskType, count, workerId, now, newToken, limits = {}, quiet = 0) =>
    queue.claim(this.writePool, taskType, count, workerId, now, newToken, limits, this.fair, quiet);
  /** The row is noted as queued once it is: a key counted empty would otherwise leave the rotation with it waiting. */
  requeue = async (taskId: string, token: string) => {
    const row = await queue.requeue(this.writePool, taskId, token);
    if (row) this.fair.noteQueued(row.taskType, row.fairKey, row.fairWeight, row.priority);
  };
  extendLease = (taskId: string, token: string, seconds: number, now: number) => queue.extendLease(this.writePool, taskId, token, seconds, now);
  /** Counts every queued task: concurrent callers (ListQueues, a scrape) share one read, so callers cannot hold a connection each with it. */
  private readonly depths = new CoalescedRead<queue.QueueDepth[]>();
  queueDepths = (now: number, limitMs: number) => this.depths.get(() => this.limited(limitMs, (tx) => queue.queueDepths(tx, now)));
  /** On the search pool: it counts every task queued of its types, as a search reads every run its filter touches. */
  queueDepthPage = (now: number, page: queue.QueueDepthPage) => queue.queueDepthPage(this.searchPool, now, page);
  readyTaskTypes = (now: number, among?: readonly string[]) => queue.readyTaskTypes(this.pool, now, among);

  dueRuns = (now: number, limit: number) => dueRuns(this.pool, now, limit);
  takeOutbox = (now: number, leaseMs: number, id?: number, kind?: string) => outbox.takeOutbox(this.pool, now, leaseMs, id, kind);
  takeOutboxItems = (now: number, leaseMs: number, ids: number[]) => outbox.takeOutboxItems(this.pool, now, leaseMs, ids);
  finishOutbox = (ids: number[]) => outbox.finishOutbox(this.pool, ids);

  beatReplica = (mine: replicas.ReplicaPresence, freshSince: number, goneBefore: number) => replicas.beat(this.pool, mine, freshSince, goneBefore);
  leaveReplicas = (replica: string) => replicas.leave(this.pool, replica);
  announceRunsMoved = (replica: string, runIds: string[] | undefined) => announceRunsMoved(this.pool, replica, runIds);

  route = (name: string) => routes.route(this.pool, name);
  listRoutes = () => routes.listRoutes(this.pool);
  guardedRoutes = () => routes.guardedRoutes(this.pool);
  changeRoute: Store["changeRoute"] = (name, actor, now, update, expectedRevision) => routes.changeRoute(this.pool, name, actor, now, update, expectedRevision);
  deleteRoute = (name: string, actor: string, now: number) => routes.deleteRoute(this.pool, name, actor, now);
  routeHistory = (name: string, limit: number) => routes.routeHistory(this.pool, name, limit);
  stickyVersion = (name: string, keyHash: string, proposed: number, routed: readonly number[]) =>
    routes.stickyVersion(this.pool, name, keyHash, proposed, routed);
  versionCounts = (name: string, since: number) => routes.versionCounts(this.pool, name, since);
  versionCountsOf = (names: readonly string[], since: number) => routes.versionCountsOf(this.pool, names, since);
  /** On the search pool: a caller's window may hold every run of the name. */
  searchedVersionCounts = (name: string, since: number) => routes.versionCounts(this.searchPool, name, since);

  schedule = (name: string) => schedules.schedule(this.pool, name);
  listSchedules: Store["listSchedules"] = (workflowName, page, room) => schedules.listSchedules(this.pool, workflowName, page, room);
  insertSchedule = (row: schedules.NewSchedule) => schedules.insertSchedule(this.pool, row);
  changeSchedule = (name: string, fn: schedules.ScheduleChange, now: number) => schedules.changeSchedule(this.pool, name, fn, now);
  deleteSchedule = (name: string) => schedules.deleteSchedule(this.pool, name);
  fireDueSchedules = (now: number, limit: number, fire: schedules.ScheduleFire, failed: schedules.ScheduleFailed) =>
    schedules.fireDueSchedules(this.pool, now, limit, fire, failed);

  removeEndedRuns: Store["removeEndedRuns"] = (f, limit, keep) => retention.removeEndedRuns(this.pool, f, limit, keep);
  /** On the search pool: it counts every ended run before the time, and their tasks. */
  countEndedRuns = (f: retention.PurgeFilter) => retention.countEndedRuns(this.searchPool, f);
  oldestEndedRun = () => retention.oldestEndedRun(this.pool);
  retentionOverrides = () => retention.retentionOverrides(this.pool);
  removeIdleConcurrencyKeys = (limit: number) => concurrency.removeIdleKeys(this.pool, limit);

  addTaskLogs = (taskId: string, messages: string[], now: number, cap: taskLogs.TaskLogCap) => taskLogs.addTaskLogs(this.pool, taskId, messages, now, cap);
  taskLogPage = (taskId: string, after: number, limit: number, maxBytes: number) => taskLogs.taskLogPage(this.pool, taskId, after, limit, maxBytes);

  putEventHandler = (h: eventHandlers.StoredHandler, now: number, maxPerEvent: number) => eventHandlers.putHandler(this.pool, h, now, maxPerEvent);
  getEventHandler = (name: string) => eventHandlers.getHandler(this.pool, name);
  listEventHandlers = (filter: eventHandlers.HandlerFilter, room: number) => eventHandlers.listHandlers(this.pool, filter, room);
  activeEventHandlers = (events: string[], limit: number) => eventHandlers.activeHandlers(this.pool, events, limit);
  deleteEventHandler = (name: string) => eventHandlers.deleteHandler(this.pool, name);
  publishEvent = (name: string, payloadJson: string, now: number, publisher: string, maxWaiting: number) =>
    eventBus.publishEvent(this.pool, name, payloadJson, now, publisher, maxWaiting);
  takeEvents = (now: number, leaseMs: number, limit: number) => eventBus.takeEvents(this.pool, now, leaseMs, limit);
  finishEvents = (events: Pick<eventBus.TakenEvent, "id" | "publisher" | "shard">[]) => eventBus.finishEvents(this.pool, events);
  finishedEventsOf = (runId: string) => eventBus.finishedEventsOf(this.pool, runId);

  insertApiKey = (key: Omit<apiKeys.ApiKeyRow, "revokedAt">) => apiKeys.insertApiKey(this.pool, key);
  listApiKeys = (includeRevoked: boolean) => apiKeys.listApiKeys(this.pool, includeRevoked);
  findApiKey = (id: string) => apiKeys.findApiKey(this.pool, id);
  revokeApiKey = (id: string, now: number) => apiKeys.revokeApiKey(this.pool, id, now);
  hasActiveAdmin = () => apiKeys.hasActiveAdmin(this.pool);

  schemaVersion = () => health.schemaVersion(this.health());
  openTransactions = (limit: number) => health.openTransactions(this.health(), limit);
}

/** Opens the store on a database (no connection is made until first used; `migrate` first). */
export function openStore(connectionString: string, options: StoreOptions = {}): Store {
  return new PgStore(connectionString, options);
}
