// Carries events through: lock the run, decide, write, commit, then wake
// whoever waits. The only place where the pure decider meets the store.
import { createHash, randomUUID } from "node:crypto";
import { stringifyJson } from "@baton/json";
import type { TaskDef, WorkflowDef } from "@baton/sdk";
import { decide, Decider, Refusal, type Decision, type Effect, type RunEvent, type StartRunRequest } from "../engine/decider.js";
import { graphFor, type Graph } from "../engine/graph.js";
import { TERMINAL_TASK, TERMINAL_WORKFLOW, type JsonObject, type RouteChoice, type RunState, type TaskState } from "../engine/model.js";
import { isWorkerTask } from "../engine/system-tasks.js";
import type { Clock } from "../clock.js";
import { isConnectionError, Store, type BatchWrite, type LoadedRun, type LoadedRuns, type Queryable, type RunTarget } from "../store/store.js";
import { BatchQueue } from "./batches.js";
import { fairKeyOf, fairKeyOfRun } from "../fairness/key.js";
import { awaitFollowUps, carryOut, type Evaluation } from "./evaluations.js";
import type { EngineServices } from "./services.js";
import type { Logger } from "../logger.js";

export interface EngineHooks {
  /** Worker tasks became ready (after commit). */
  tasksReady(taskTypes: Set<string>, at: number): void;
  /** A run reached a terminal status (after commit). */
  runEnded(runId: string): void;
  /** An HTTP (or other asynchronous) system task must be carried out. */
  runAsync(task: TaskState): void;
  /** Task definitions changed: drop what was derived from them. */
  taskDefsChanged?(): void;
  /**
   * A worker of this type waiting here with a free credit, reserved for a task
   * this event makes ready: the task is handed over at commit without going
   * through the queue table.
   */
  reserveWorker?(taskType: string): Reservation | undefined;
  /** A run's events were decided and committed (after commit; `events` in the order applied). */
  decided?(decision: Decision, events: RunEvent[]): void;
}

/** What one event did to its run. */
export interface EventOutcome {
  /** False when the event changed nothing (e.g. a result for a task that had ended). */
  applied: boolean;
  /** The run after the event (and any decided with it). */
  run: RunState;
}

export interface Reservation {
  workerId: string;
  /** Pushes the task; false when the worker left meanwhile. */
  deliver(task: TaskState): boolean;
  /** Gives the credit back (the event did not commit). */
  release(): void;
}

interface HandOff {
  task: TaskState;
  reservation: Reservation;
}

export interface StartOptions {
  name: string;
  version?: number;
  definition?: WorkflowDef;
  input: JsonObject;
  correlationId?: string;
  idempotencyKey?: string;
  priority?: number;
  /** Checks the resolved definition against the request before anything is written (throws to refuse). */
  admit?: (def: WorkflowDef) => void;
  /** Set for child runs: chosen by the parent's decider. */
  runId?: string;
  parentRunId?: string;
  parentTaskId?: string;
  depth?: number;
}

/** Picks the version for a start without one (see routes/router.ts). */
export interface VersionChooser {
  choose(start: { name: string; input: JsonObject; correlationId: string }): Promise<{ version: number; choice: RouteChoice } | undefined>;
}

/** More work than the server takes on at once: the caller should retry after `retryAfterMs`. */
export class Overloaded extends Error {
  constructor(
    message: string,
    readonly retryAfterMs: number,
  ) {
    super(message);
    this.name = "Overloaded";
  }
}

/** How long a taken outbox item stays invisible to other replicas. */
const OUTBOX_LEASE_MS = 30_000;
/**
 * How long other replicas leave a new outbox item to the process that wrote
 * it (it carries the item out right after commit); after that, one that died
 * meanwhile has its items taken over.
 */
const OUTBOX_HOLD_MS = 5_000;

const RETRYABLE_PG_CODES = new Set(["40001", "40P01"]);

export function definitionHash(def: WorkflowDef): string {
  return sha256(canonicalJson(def));
}

function sha256(text: string): string {
  return createHash("sha256").update(text).digest("hex");
}

/** JSON with object keys sorted, so equal definitions hash equally. */
export function canonicalJson(value: unknown): string {
  return stringifyJson(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!value || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, sortKeys(v)]),
  );
}

export class Engine {
  private readonly defs = new Map<string, WorkflowDef>();
  private readonly taskDefCache = new Map<string, TaskDef | undefined>();
  private readonly latestDefs = new Map<string, { def: WorkflowDef; hash: string; version: number }>();
  private workflowDefGeneration = 0;
  private taskDefGeneration = 0;

  /** Starts in progress now; beyond the limit new ones are refused, so overload sheds early instead of queueing. */
  private startsInFlight = 0;

  constructor(
    readonly store: Store,
    readonly clock: Clock,
    readonly services: EngineServices,
    private readonly log: Logger,
    private readonly limits: {
      maxConcurrentStarts: number;
      maxBatchesInFlight?: number;
      maxBatchEvents?: number;
    } = { maxConcurrentStarts: 256 },
    /** Chooses the version of a start that names none, when its workflow has a route. */
    private readonly router?: VersionChooser,
    /** What the engine tells the rest of the server (after commit, mostly): given at construction. */
    private readonly hooks: EngineHooks = { tasksReady: () => {}, runEnded: () => {}, runAsync: () => {} },
  ) {
    this.queue = new BatchQueue<BatchItem>(
      (items) => this.writeBatch(items),
      (item) => (item.kind === "start" ? undefined : typeof item.target === "string" ? item.target : this.runOfTask.get(item.target.taskId)),
      { maxInFlight: limits.maxBatchesInFlight ?? 4, maxItems: limits.maxBatchEvents ?? 500 },
    );
  }

  /** A definition by content hash; immutable, so cached forever. */
  async definition(hash: string, q?: Queryable): Promise<{ def: WorkflowDef; graph: Graph }> {
    let def = this.defs.get(hash);
    if (!def) {
      // Inside an event, through its own connection: a second one from the
      // pool could wait forever while every connection holds a run lock.
      def = await this.store.defByHash(hash, q);
      if (!def) throw new Error(`definition ${hash} is missing`);
      this.defs.set(hash, def);
    }
    return { def, graph: graphFor(hash, def) };
  }

  /**
   * Task definitions a run may need. Cached in memory: a change is announced
   * with NOTIFY baton_taskdefs and clears the cache on every replica.
   */
  private async taskDefsFor(tx: Queryable, def: WorkflowDef, tasks: TaskState[]): Promise<Map<string, TaskDef>> {
    const names = new Set<string>(tasks.map((t) => t.defName));
    const walk = (list: WorkflowDef["tasks"]) => {
      for (const t of list) {
        names.add(t.name);
        t.forkTasks?.forEach(walk);
        Object.values(t.decisionCases ?? {}).forEach(walk);
        if (t.defaultCase) walk(t.defaultCase);
        if (t.loopOver) walk(t.loopOver);
      }
    };
    walk(def.tasks);
    const missing = [...names].filter((n) => !this.taskDefCache.has(n));
    if (missing.length > 0) {
      const generation = this.taskDefGeneration;
      const found = await this.store.taskDefs(tx, missing);
      if (generation === this.taskDefGeneration) for (const name of missing) this.taskDefCache.set(name, found.get(name));
      const result = new Map<string, TaskDef>();
      for (const name of names) {
        const d = found.get(name) ?? this.taskDefCache.get(name);
        if (d) result.set(name, d);
      }
      return result;
    }
    const result = new Map<string, TaskDef>();
    for (const name of names) {
      const d = this.taskDefCache.get(name);
      if (d) result.set(name, d);
    }
    return result;
  }

  /**
   * The latest version of a workflow, cached: a new version is announced
   * with NOTIFY baton_workflow_defs at its commit and clears the entry on
   * every replica, so starts by name cost no query.
   */
  private async latestDefinition(name: string): Promise<{ def: WorkflowDef; hash: string; version: number } | undefined> {
    const cached = this.latestDefs.get(name);
    if (cached) return cached;
    const generation = this.workflowDefGeneration;
    const found = await this.store.workflowDef(this.store.pool, name);
    if (found && generation === this.workflowDefGeneration) {
      this.latestDefs.set(name, found);
      if (this.latestDefs.size > 10_000) this.latestDefs.delete(this.latestDefs.keys().next().value as string);
    }
    return found;
  }

  /** Forgets the cached latest version of a workflow (all, without a name): it changed here or on another replica. */
  workflowDefsChanged(name?: string): void {
    if (name) this.latestDefs.delete(name);
    else this.latestDefs.clear();
    this.workflowDefGeneration++;
  }

  /** Forgets cached task definitions (one changed here or on another replica). */
  taskDefsChanged(): void {
    this.taskDefCache.clear();
    this.taskDefGeneration++;
    this.hooks.taskDefsChanged?.();
  }

  /** Retries a transaction that lost a race (write conflict, deadlock, serialization). */
  private async withRetry<T>(fn: () => Promise<T>, handOffs: HandOff[] = []): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await fn();
      } catch (error) {
        // The attempt did not commit: its reserved workers get their credit back.
        for (const h of handOffs.splice(0)) h.reservation.release();
        const code = (error as { code?: string }).code;
        const retryable = code !== undefined && RETRYABLE_PG_CODES.has(code);
        if (!retryable || attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, Math.random() * 5 * (attempt + 1)));
      }
    }
  }

  /**
   * Applies one event to one run, atomically. Events that arrive together
   * are decided and written together (see BatchQueue); each is still all or
   * nothing, and a refused one changes nothing. Undefined with skipLocked
   * when another transaction holds the run.
   */
  handle(target: RunTarget, event: RunEvent, options: { skipLocked?: boolean } = {}): Promise<EventOutcome | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({ kind: "event", lane: options.skipLocked ? "skip-locked" : "wait", target, event, skipLocked: Boolean(options.skipLocked), resolve, reject });
    });
  }

  /** Starts a run; with an idempotency key (or a preset id) twice is once. */
  async start(options: StartOptions): Promise<{ runId: string; created: boolean }> {
    // Child runs (from the outbox) are work already accepted: never shed them.
    if (!options.parentRunId && this.startsInFlight >= this.limits.maxConcurrentStarts) {
      throw new Overloaded(`the server is busy (${this.startsInFlight} starts in progress); retry shortly`, 200);
    }
    this.startsInFlight++;
    try {
      const resolved = await this.resolveDefinition(options);
      options.admit?.(resolved.def);
      return await new Promise((resolve, reject) => {
        this.queue.push({ kind: "start", lane: "wait", options, resolved, resolve, reject });
      });
    } finally {
      this.startsInFlight--;
    }
  }

  private readonly queue: BatchQueue<BatchItem>;

  /** Runs as this replica last wrote them (row, revision, tasks): see stateOf and decideFromMemory. */
  private readonly runCache = new Map<string, { run: RunState; rev: number; tasks: TaskState[] }>();
  private cachedTasks = 0;

  /** Which run a task belongs to (never changes), for tasks seen lately: groups a run's results into one batch. */
  private readonly runOfTask = new Map<string, string>();

  private rememberTasks(entries: Iterable<[string, string]>): void {
    for (const [taskId, runId] of entries) this.runOfTask.set(taskId, runId);
    for (const taskId of this.runOfTask.keys()) {
      if (this.runOfTask.size <= 50_000) break;
      this.runOfTask.delete(taskId);
    }
  }

  /**
   * Writes a batch and settles its items. Resolves once its transaction has
   * ended, before the effects after commit run: those may start events of
   * their own, which must not wait for this batch's slot.
   */
  private async writeBatch(items: BatchItem[]): Promise<void> {
    let done: Awaited<ReturnType<Engine["decideBatch"]>>;
    try {
      done = await this.decideBatch(items);
    } catch (error) {
      if (items.length > 1 && !isConnectionError(error)) {
        // One bad event must not fail the others: halve until it stands alone.
        const half = Math.ceil(items.length / 2);
        await this.writeBatch(items.slice(0, half));
        await this.writeBatch(items.slice(half));
      } else {
        for (const item of items) item.reject(error);
      }
      return;
    }
    void this.afterCommit(done.after).then(
      () => done.settle(),
      (error: unknown) => {
        this.log.warn({ err: error }, "work after commit failed");
        done.settle();
      },
    );
  }

  /** Decides and writes a batch: from memory when it can, else in one transaction (retried when it lost a race). */
  private async decideBatch(items: BatchItem[]): Promise<Settled> {
    const starts = items.filter((i): i is StartItem => i.kind === "start");
    const events = items.filter((i): i is EventItem => i.kind === "event");
    const fromMemory = await this.decideFromMemory(events, starts);
    if (fromMemory) return fromMemory;
    // Starts found to exist already (idempotency key, preset id): answered without a write.
    const existing = new Map<StartItem, string>();
    for (;;) {
      const handOffs: HandOff[] = [];
      try {
        const outcome = await this.withRetry(
          () =>
            this.store.events(
              {
                runIds: events.flatMap((e) => (typeof e.target === "string" ? [e.target] : [])),
                taskIds: events.flatMap((e) => (typeof e.target === "string" ? [] : [e.target.taskId])),
                cachedRunIds: this.cachedRunsFor(events),
              },
              { skipLocked: events.some((e) => e.skipLocked) },
              (tx, loaded) => this.decideAndWrite(tx, loaded, events, starts.filter((s) => !existing.has(s)), handOffs),
            ),
          handOffs,
        );
        return this.committed(outcome, existing);
      } catch (error) {
        if (!(error instanceof StartConflict)) throw error;
        for (const item of error.starts) {
          const key = item.options.idempotencyKey;
          const found = key ? await this.store.runIdByIdempotencyKey(this.store.pool, key) : item.options.runId;
          // The run that holds the key may have been rolled back meanwhile: then this start tries again.
          if (found) existing.set(item, found);
        }
      }
    }
  }

  /** Committed: the runs decided are current in memory as written; the items are answered once the work after commit is done. */
  private committed(outcome: { results: Map<BatchItem, unknown>; after: AfterCommit }, existing = new Map<StartItem, string>()): Settled {
    for (const kept of outcome.after.keep) this.keepRun(kept);
    return {
      after: outcome.after,
      settle: () => {
        for (const [item, result] of outcome.results) {
          if (result instanceof Error) item.reject(result);
          else item.resolve(result as never);
        }
        for (const [item, runId] of existing) item.resolve({ runId, created: false });
      },
    };
  }

  /**
   * The fast path, for task results on runs kept in memory and for starts:
   * decided without reading or locking anything, and written as one
   * statement outside a transaction, one round trip instead of three. The
   * statement checks the revision of every run and task it updates and fails
   * whole when one moved (another replica's event, a claim, a lease
   * extension), or when a new run's id or idempotency key is taken; the batch
   * is then decided again from locked rows. Undefined when it does not apply.
   */
  private async decideFromMemory(events: EventItem[], starts: StartItem[]): Promise<Settled | undefined> {
    if (starts.some((s) => s.options.definition)) return undefined;
    const loaded: LoadedRuns = { runs: new Map(), runOfTask: new Map() };
    for (const item of events) {
      const { event, target } = item;
      if ((event.kind !== "taskResult" && event.kind !== "evaluated") || item.skipLocked || typeof target === "string") return undefined;
      const runId = this.runOfTask.get(target.taskId);
      const kept = runId === undefined ? undefined : this.runCache.get(runId);
      const task = kept?.tasks.find((t) => t.id === target.taskId);
      // What memory holds of the task must be what the worker was given.
      if (!kept || kept.tasks.length >= KEEP_MIN_TASKS || task?.status !== "IN_PROGRESS" || task.leaseToken !== event.leaseToken) return undefined;
      loaded.runs.set(runId!, { run: kept.run, rev: kept.rev, tasks: kept.tasks, fresh: [] });
      loaded.runOfTask.set(target.taskId, runId!);
    }
    // Taken out while in use: the decider changes these objects in place, and a failed write leaves them wrong.
    for (const runId of loaded.runs.keys()) this.forget(runId);
    const handOffs: HandOff[] = [];
    try {
      return this.committed(await this.decideAndWrite(this.store.pool, loaded, events, starts, handOffs, true));
    } catch (error) {
      for (const h of handOffs) h.reservation.release();
      // Memory was behind, or the write lost a race (a moved row, a deadlock): the slow path decides.
      const code = (error as { code?: unknown }).code;
      if (error instanceof NotFromMemory || (typeof code === "string" && RETRYABLE_PG_CODES.has(code))) return undefined;
      throw error;
    }
  }

  private forget(runId: string): void {
    const kept = this.runCache.get(runId);
    if (!kept) return;
    this.runCache.delete(runId);
    this.cachedTasks -= kept.tasks.length;
  }

  /** Tasks claimed here from the queue: a narrow run kept in memory takes their new rows, so its next result is decided from memory. */
  claimed(tasks: TaskState[]): void {
    for (const task of tasks) {
      const kept = this.runCache.get(task.runId);
      if (!kept || kept.tasks.length >= KEEP_MIN_TASKS) continue;
      const index = kept.tasks.findIndex((t) => t.id === task.id);
      // The claim bumped the row's revision once; any other difference means memory is behind.
      if (index >= 0 && kept.tasks[index]!.rev + 1 === task.rev) kept.tasks[index] = task;
      else this.forget(task.runId);
    }
  }

  /**
   * Decides a batch on the runs in `loaded` and writes it through `q`: a
   * transaction holding their locks, or (fromMemory) the pool, when they
   * come from memory and the write alone must find out whether they moved.
   */
  private async decideAndWrite(q: Queryable, loaded: LoadedRuns, events: EventItem[], starts: StartItem[], handOffs: HandOff[], fromMemory = false) {
    // Only wide runs: their results arrive together and are worth grouping.
    for (const { tasks } of loaded.runs.values()) if (tasks && tasks.length >= KEEP_MIN_TASKS) this.rememberTasks(tasks.map((t) => [t.id, t.runId] as [string, string]));
    const now = this.clock.now();
    const write: BatchWrite = {
      runs: [],
      newRuns: [],
      removed: [],
      inserts: [],
      updates: [],
      dequeue: [],
      enqueue: [],
      outbox: [],
      outboxHeldUntil: now + OUTBOX_HOLD_MS,
      events: [],
      now,
      notifyTaskTypes: [],
      notifyRunsEnded: [],
    };
    const after: AfterCommit = { ready: new Set(), ended: [], outboxIds: [], asyncTasks: [], evaluations: [], handOffs, decided: [], keep: [] };
    const results = new Map<BatchItem, EventOutcome | { runId: string; created: boolean } | undefined | Error>();

    const groups = new Map<string, EventItem[]>();
    for (const item of events) {
      const runId = typeof item.target === "string" ? item.target : loaded.runOfTask.get(item.target.taskId);
      if (runId === undefined || !loaded.runs.has(runId)) {
        results.set(
          item,
          item.skipLocked ? undefined : new Refusal("NOT_FOUND", typeof item.target === "string" ? `no run ${item.target}` : `no task ${item.target.taskId}`),
        );
        continue;
      }
      const group = groups.get(runId);
      if (group) group.push(item);
      else groups.set(runId, [item]);
    }
    for (const [runId, group] of groups) {
      await this.decideRun(q, runId, await this.stateOf(q, runId, loaded.runs.get(runId)!), group, now, write, after, results, fromMemory);
    }

    for (const item of starts) {
      const { def, hash, version, route } = item.resolved;
      const { options } = item;
      if (options.definition) await this.store.putDef(q, hash, def);
      const input = { ...(def.inputTemplate ?? {}), ...options.input };
      const fairKey = fairKeyOf(def["fairnessKey"], input, options.correlationId ?? "");
      const run: RunState = {
        id: options.runId ?? randomUUID(),
        name: def.name,
        version,
        defHash: hash,
        status: "RUNNING",
        input,
        output: {},
        variables: structuredClone(def.variables ?? {}),
        correlationId: options.correlationId ?? "",
        idempotencyKey: options.idempotencyKey ?? "",
        priority: options.priority ?? 0,
        reason: "",
        failedRefs: [],
        failedTaskId: "",
        parentRunId: options.parentRunId ?? "",
        parentTaskId: options.parentTaskId ?? "",
        createdAt: now,
        updatedAt: now,
        endedAt: 0,
        wakeAt: 0,
        nextSeq: 1,
        extra: { ...(options.depth ? { depth: options.depth } : {}), ...(fairKey ? { fairKey } : {}) },
        ...(route ? { route } : {}),
      };
      const taskDefs = await this.taskDefsFor(q, def, []);
      const decision = decide(
        { def, graph: graphFor(hash, def), run, tasks: [], taskDefs, now, newId: randomUUID, services: this.services },
        { kind: "start" },
      );
      this.collect(decision, new Set(), undefined, now, taskDefs, write, after);
      after.decided.push({ decision, events: [{ kind: "start" }] });
      // A new run's row starts at revision 0.
      after.keep.push({ runId: run.id, rev: 0, decision, existing: new Set() });
      results.set(item, { runId: run.id, created: true });
    }

    // Removing tasks takes statements of their own: only a transaction keeps the batch one change.
    if (fromMemory && write.removed.length > 0) throw new NotFromMemory();
    const { outboxIds, insertedRuns } = await this.store.writeBatch(q, write, { allRunsNew: fromMemory });
    // Inserted nothing for a start whose id or idempotency key exists: its tasks must not stay either.
    const conflicts = starts.filter((item) => !insertedRuns.has((results.get(item) as { runId: string }).runId));
    if (conflicts.length > 0) throw new StartConflict(conflicts);
    after.outboxIds = outboxIds;
    return { results, after };
  }

  /** Runs whose tasks this batch may take from memory: kept ones, with task results only. */
  private cachedRunsFor(events: EventItem[]): string[] {
    const eligible = new Map<string, boolean>();
    for (const item of events) {
      const runId = typeof item.target === "string" ? item.target : this.runOfTask.get(item.target.taskId);
      if (runId === undefined || !this.runCache.has(runId)) continue;
      eligible.set(runId, (eligible.get(runId) ?? true) && (item.event.kind === "taskResult" || item.event.kind === "evaluated"));
    }
    return [...eligible].filter(([, ok]) => ok).map(([id]) => id);
  }

  /**
   * A locked run's tasks: as loaded, or kept in memory since this replica last
   * wrote it. Kept tasks are current when the run's revision has not moved:
   * only events change a finished task, and every event bumps the revision.
   * Open tasks also change by claims and lease extensions, which leave the
   * revision alone, so the tasks the events name come fresh from the
   * database; any other open task the decision writes is checked against
   * its stored revision (a stale one makes the batch retry from the database).
   */
  private async stateOf(tx: Queryable, runId: string, loaded: LoadedRun): Promise<{ run: RunState; rev: number; tasks: TaskState[] }> {
    if (loaded.tasks) return { run: loaded.run, rev: loaded.rev, tasks: loaded.tasks };
    const kept = this.runCache.get(runId);
    // Taken out while in use: the decider changes these objects in place, and a rollback would leave them wrong.
    this.runCache.delete(runId);
    if (kept) this.cachedTasks -= kept.tasks.length;
    const fresh = new Map(loaded.fresh.map((t) => [t.id, t]));
    if (kept && kept.rev === loaded.rev) {
      const tasks = kept.tasks.map((t) => {
        const row = fresh.get(t.id);
        fresh.delete(t.id);
        return row ?? t;
      });
      if (fresh.size === 0) return { run: loaded.run, rev: loaded.rev, tasks };
    }
    return { ...(await this.store.getRun(runId, true, tx))!, rev: loaded.rev };
  }

  /**
   * Keeps a run after commit, as written: a wide one, whose tasks are then
   * not read whole again; a narrow one with a worker task open, whose result
   * can then be decided from memory. Not runs that only wait (timers,
   * signals): memory stays small with many of those.
   */
  private keepRun({ runId, rev, decision, existing }: KeptRun): void {
    this.forget(runId);
    if (TERMINAL_WORKFLOW.has(decision.run.status)) return;
    const wide = decision.tasks.length >= KEEP_MIN_TASKS;
    // A leased system task (an evaluation, an HTTP call) is answered by this replica: its answer is decided from memory too.
    if (!wide && !decision.tasks.some((t) => !TERMINAL_TASK.has(t.status) && (isWorkerTask(t.type) || t.leaseToken !== ""))) return;
    // The store bumped the revision of every task it updated.
    for (const task of decision.changed) if (existing.has(task.id)) task.rev += 1;
    this.runCache.set(runId, { run: decision.run, rev, tasks: decision.tasks });
    this.cachedTasks += decision.tasks.length;
    this.rememberTasks([...decision.changed].map((t) => [t.id, runId] as [string, string]));
    for (const id of this.runCache.keys()) {
      if (this.cachedTasks <= KEEP_MAX_TASKS && this.runCache.size <= KEEP_MAX_RUNS) break;
      this.forget(id);
    }
  }

  /**
   * Decides one run's events in order on one decider. A refused event may
   * have changed the state half way: the run is read again and the events
   * decided once more without it.
   */
  private async decideRun(
    tx: Queryable,
    runId: string,
    loaded: { run: RunState; rev: number; tasks: TaskState[] },
    group: EventItem[],
    now: number,
    write: BatchWrite,
    after: AfterCommit,
    results: Map<BatchItem, unknown>,
    fromMemory: boolean,
  ): Promise<void> {
    let state = loaded;
    for (;;) {
      const live = group.filter((item) => !results.has(item));
      if (live.length === 0) return;
      const { def, graph } = await this.definition(state.run.defHash, tx);
      const applied: RunEvent[] = [];
      let restartDef: Extract<RunEvent, { kind: "restart" }>["def"];
      for (const { event } of live) {
        if (event.kind === "restart" && event.def === undefined && event.useLatest && !restartDef) {
          const latest = await this.store.workflowDef(tx, state.run.name);
          if (latest) restartDef = { def: latest.def, hash: latest.hash, version: latest.version, graph: graphFor(latest.hash, latest.def) };
        }
      }
      const taskDefs = await this.taskDefsFor(tx, restartDef?.def ?? def, state.tasks);
      const existing = new Set(state.tasks.map((t) => t.id));
      // The tasks were loaded for this batch alone: the decider may change them in place.
      const decider = new Decider({ def, graph, run: state.run, tasks: state.tasks, taskDefs, now, newId: randomUUID, services: this.services, ownsTasks: true });
      const outcomes = new Map<EventItem, boolean>();
      let refused = false;
      for (const item of live) {
        const event = item.event.kind === "restart" && restartDef && item.event.useLatest && !item.event.def ? { ...item.event, def: restartDef } : item.event;
        try {
          outcomes.set(item, decider.applyNext(event));
          applied.push(event);
        } catch (error) {
          if (!(error instanceof Refusal)) throw error;
          results.set(item, error);
          refused = true;
          break;
        }
      }
      if (refused) {
        // Memory may be what is behind: answer only from the database.
        if (fromMemory) throw new NotFromMemory();
        state = { ...(await this.store.getRun(runId, true, tx))!, rev: state.rev };
        continue;
      }
      const decision = decider.result();
      this.collect(decision, existing, state.rev, now, taskDefs, write, after);
      after.decided.push({ decision, events: applied });
      after.keep.push({ runId, rev: state.rev + 1, decision, existing });
      for (const [item, ok] of outcomes) results.set(item, { applied: ok, run: decision.run });
      return;
    }
  }

  private async resolveDefinition(options: StartOptions): Promise<{ def: WorkflowDef; hash: string; version: number; route?: RouteChoice }> {
    if (options.definition) {
      const def = options.definition;
      const { validateWorkflowDef } = await import("@baton/sdk");
      const { errors } = validateWorkflowDef(def);
      if (errors.length > 0) {
        throw new Refusal("INVALID_ARGUMENT", `invalid inline definition: ${errors.map((e) => `${e.path || "/"}: ${e.message}`).join("; ")}`);
      }
      return { def, hash: definitionHash(def), version: def.version ?? 1 };
    }
    const routed =
      options.version === undefined
        ? await this.router?.choose({ name: options.name, input: options.input, correlationId: options.correlationId ?? "" })
        : undefined;
    const version = routed?.version ?? options.version;
    const found = version === undefined ? await this.latestDefinition(options.name) : await this.store.workflowDef(this.store.pool, options.name, version);
    if (!found) {
      throw new Refusal("NOT_FOUND", `no workflow definition ${options.name}${version !== undefined ? ` version ${version}` : ""}`);
    }
    return routed ? { ...found, route: routed.choice } : found;
  }

  /** Adds a decision's writes to its batch, and what to do after commit. `readRev`: the revision the run was decided from; undefined for a new run. */
  private collect(decision: Decision, existing: Set<string>, readRev: number | undefined, now: number, taskDefs: Map<string, TaskDef>, write: BatchWrite, after: AfterCommit): void {
    const { run, changed, removed, effects } = decision;
    const removedIds = new Set(removed);
    write.removed.push(...removed);
    for (const task of changed) (existing.has(task.id) && !removedIds.has(task.id) ? write.updates : write.inserts).push(task);
    if (readRev === undefined) write.newRuns.push(run);
    else write.runs.push({ run, rev: readRev });

    const enqueue = new Map<string, TaskState>();
    const dequeue = new Set<string>();
    for (const effect of effects) {
      switch (effect.kind) {
        case "enqueue":
          enqueue.set(effect.task.id, effect.task);
          break;
        case "dequeue":
          dequeue.add(effect.taskId);
          break;
        case "startRun":
          write.outbox.push({ kind: "startRun", payload: { ...effect.request, parentRunId: effect.request.linked ? run.id : "", requesterRunId: run.id } });
          break;
        case "terminateRun":
          write.outbox.push({ kind: "terminateRun", payload: effect });
          break;
        case "retryRun":
          write.outbox.push({ kind: "retryRun", payload: effect });
          break;
        case "runEnded":
          write.notifyRunsEnded.push(run.id);
          after.ended.push(run.id);
          if (run.parentRunId && run.parentTaskId) {
            write.outbox.push({
              kind: "childEnded",
              payload: { parentRunId: run.parentRunId, taskId: run.parentTaskId, childId: run.id, status: run.status, output: run.output, reason: run.reason, name: run.name, version: run.version },
            });
          }
          break;
        case "runRevived":
          if (run.parentRunId && run.parentTaskId) {
            write.outbox.push({ kind: "childRevived", payload: { parentRunId: run.parentRunId, taskId: run.parentTaskId, childId: run.id } });
          }
          break;
        case "publishEvent":
          write.events.push({ sink: effect.sink, name: effect.name, payload: effect.payload });
          break;
        case "runAsync":
          after.asyncTasks.push(effect.task);
          break;
        case "evaluate":
          // Asked for and answered in this decision already (a newer lease), or the task ended: nothing to run.
          if (effect.task.status === "IN_PROGRESS" && effect.task.leaseToken === effect.leaseToken && !removedIds.has(effect.task.id)) {
            after.evaluations.push({ runId: run.id, taskId: effect.task.id, leaseToken: effect.leaseToken, request: effect.request });
          }
          break;
      }
    }
    // Only tasks still waiting for a worker go to the queue; one a worker
    // here can take at once is leased to it directly.
    const waiting = [...enqueue.values()].filter((t) => t.status === "SCHEDULED" && isWorkerTask(t.type) && !removedIds.has(t.id));
    for (const t of waiting) {
      if (t.visibleAt > now || hasClaimLimits(taskDefs.get(t.defName))) continue;
      const reservation = this.hooks.reserveWorker?.(t.defName);
      if (!reservation) continue;
      leaseTo(t, reservation.workerId, now);
      after.handOffs.push({ task: t, reservation });
    }
    const queued = new Set<string>();
    for (const t of waiting) {
      if (t.status !== "SCHEDULED") continue;
      if (t.visibleAt <= now && !after.ready.has(t.defName)) {
        after.ready.add(t.defName);
        write.notifyTaskTypes.push(t.defName);
      }
      queued.add(t.id);
      write.enqueue.push({ taskId: t.id, taskType: t.defName, runId: t.runId, priority: run.priority, visibleAt: t.visibleAt, fairKey: fairKeyOfRun(run, this.defs.get(run.defHash)) });
    }
    for (const id of dequeue) if (!queued.has(id)) write.dequeue.push(id);
  }

  private async afterCommit(after: AfterCommit): Promise<void> {
    for (const { task, reservation } of after.handOffs) {
      if (reservation.deliver(task)) continue;
      // The worker left between reservation and commit: back to the queue.
      await this.store.requeue(task.id, task.leaseToken).catch((error: unknown) => this.log.warn({ err: error, taskId: task.id }, "requeue failed; the lease will expire"));
      after.ready.add(task.defName);
    }
    if (after.ready.size > 0) this.hooks.tasksReady(after.ready, this.clock.now());
    for (const runId of after.ended) this.hooks.runEnded(runId);
    for (const task of after.asyncTasks) this.hooks.runAsync(task);
    // Each answer is an event of its own; the caller is answered once they are decided (see awaitFollowUps).
    const followUps = after.evaluations.map((evaluation) => carryOut(evaluation, this.services.evaluator, (taskId, event) => this.handle({ taskId }, event), this.log));
    for (const { decision, events } of after.decided) this.hooks.decided?.(decision, events);
    for (const id of after.outboxIds) await this.processOutbox(id).catch((error: unknown) => this.log.warn({ err: error, outbox: id }, "outbox item failed; it will be retried"));
    await awaitFollowUps(followUps);
  }

  /**
   * Carries out one outbox item (or the oldest, when no id is given) in its
   * own transaction: the item is deleted in the same transaction that applies
   * it, so it takes effect once.
   */
  async processOutbox(id?: number): Promise<boolean> {
    const item = await this.store.takeOutbox(this.clock.now(), OUTBOX_LEASE_MS, id);
    if (!item) return false;
    await this.applyOutbox(item.kind, item.payload);
    await this.store.finishOutbox(item.id);
    return true;
  }

  // The item is deleted only after the effect below has committed in its own
  // transaction; a crash in between repeats the effect once the item's lease
  // runs out, which is harmless: starts are keyed by run id, and ended tasks
  // ignore late events.
  private async applyOutbox(kind: string, payload: JsonObject): Promise<void> {
    switch (kind) {
      case "startRun": {
        const request = payload as unknown as StartRunRequest & { parentRunId: string; requesterRunId?: string };
        // START_WORKFLOW waits to hear whether its run could be started.
        const reportStart = async (error: string) => {
          if (request.linked || !request.failTaskIfMissing || !request.requesterRunId) return;
          await this.handle(request.requesterRunId, { kind: "runStarted", taskId: request.failTaskIfMissing, childId: request.runId, error }).catch(ignoreRefusal);
        };
        try {
          await this.start({
            name: request.name,
            ...(request.version !== undefined ? { version: request.version } : {}),
            ...(request.definition ? { definition: request.definition } : {}),
            input: request.input,
            correlationId: request.correlationId,
            priority: request.priority,
            runId: request.runId,
            parentRunId: request.parentRunId,
            parentTaskId: request.linked ? request.parentTaskId : "",
            depth: request.depth,
          });
        } catch (error) {
          if (!(error instanceof Refusal)) throw error;
          await reportStart(error.message);
          // The child cannot start (no such definition): the waiting task fails.
          if (request.linked && request.parentRunId) {
            await this.handle(request.parentRunId, {
              kind: "childEnded",
              taskId: request.parentTaskId,
              childId: request.runId,
              status: "FAILED",
              output: {},
              reason: error.message,
            }).catch(() => undefined);
          }
          this.log.warn({ err: error, name: request.name }, "could not start a run requested by another run");
          return;
        }
        await reportStart("");
        return;
      }
      case "childEnded": {
        const p = payload as { parentRunId: string; taskId: string; childId: string; status: RunState["status"]; output: JsonObject; reason: string; name?: string; version?: number };
        const child = p.name !== undefined ? { name: p.name, ...(p.version !== undefined ? { version: p.version } : {}) } : {};
        await this.handle(p.parentRunId, { kind: "childEnded", taskId: p.taskId, childId: p.childId, status: p.status, output: p.output, reason: p.reason, ...child }).catch(
          ignoreRefusal,
        );
        return;
      }
      case "terminateRun": {
        const p = payload as { runId: string; reason: string };
        await this.handle(p.runId, { kind: "terminate", reason: p.reason }).catch(ignoreRefusal);
        return;
      }
      case "retryRun": {
        const p = payload as { runId: string; resumeSubworkflowTasks: boolean };
        try {
          await this.handle(p.runId, { kind: "retry", resumeSubworkflowTasks: p.resumeSubworkflowTasks });
        } catch (error) {
          if (!(error instanceof Refusal)) throw error;
          // The child cannot be retried (it completed, or is gone): its parent must not wait for it forever.
          const child = await this.store.getRun(p.runId, false);
          if (child && TERMINAL_WORKFLOW.has(child.run.status) && child.run.parentRunId && child.run.parentTaskId) {
            const { run } = child;
            await this.handle(run.parentRunId, { kind: "childEnded", taskId: run.parentTaskId, childId: run.id, status: run.status, output: run.output, reason: run.reason, name: run.name, version: run.version }).catch(ignoreRefusal);
          }
        }
        return;
      }
      case "childRevived": {
        const p = payload as { parentRunId: string; taskId: string; childId: string };
        await this.handle(p.parentRunId, { kind: "childRevived", taskId: p.taskId, childId: p.childId }).catch(ignoreRefusal);
        return;
      }
    }
  }
}

interface AfterCommit {
  ready: Set<string>;
  ended: string[];
  outboxIds: number[];
  asyncTasks: TaskState[];
  /** User code to run off this thread, each answered by an `evaluated` event. */
  evaluations: Evaluation[];
  handOffs: HandOff[];
  decided: { decision: Decision; events: RunEvent[] }[];
  /** Runs to keep in memory once committed. */
  keep: KeptRun[];
}

interface KeptRun {
  runId: string;
  /** The run's revision after this write. */
  rev: number;
  decision: Decision;
  /** Ids of the tasks that existed before (updated, not inserted). */
  existing: Set<string>;
}

/** Runs with fewer tasks are read whole each time: cheap, and memory stays small. */
const KEEP_MIN_TASKS = 64;
/** At most this many tasks, and runs, kept in memory; the least recently written go first. */
const KEEP_MAX_TASKS = 200_000;
const KEEP_MAX_RUNS = 5_000;

interface EventItem {
  kind: "event";
  lane: string;
  target: RunTarget;
  event: RunEvent;
  skipLocked: boolean;
  resolve(outcome: EventOutcome | undefined): void;
  reject(error: unknown): void;
}

interface StartItem {
  kind: "start";
  lane: string;
  options: StartOptions;
  resolved: { def: WorkflowDef; hash: string; version: number; route?: RouteChoice };
  resolve(result: { runId: string; created: boolean }): void;
  reject(error: unknown): void;
}

type BatchItem = EventItem | StartItem;

/** A batch decided from memory found memory behind (a refusal, a task to remove): it is decided again from the database. */
class NotFromMemory extends Error {}

interface Settled {
  after: AfterCommit;
  settle: () => void;
}

/** Starts in a batch found their run id or idempotency key taken: the batch rolls back and they are answered apart. */
class StartConflict extends Error {
  constructor(readonly starts: StartItem[]) {
    super("run exists already");
  }
}

function hasClaimLimits(def: TaskDef | undefined): boolean {
  return Boolean(def && ((def.concurrentExecLimit ?? 0) > 0 || (def.rateLimitPerFrequency ?? 0) > 0));
}

/** Marks a task handed to a worker, exactly as a claim from the queue would. */
function leaseTo(task: TaskState, workerId: string, now: number): void {
  task.status = "IN_PROGRESS";
  task.pollCount += 1;
  task.workerId = workerId;
  task.leaseToken = randomUUID();
  if (!task.startedAt) task.startedAt = now;
  const response = now + task.responseTimeoutSeconds * 1000;
  task.leaseExpiresAt = task.timeoutSeconds > 0 ? Math.min(response, task.startedAt + task.timeoutSeconds * 1000) : response;
  task.updatedAt = now;
}

function ignoreRefusal(error: unknown): void {
  if (!(error instanceof Refusal)) throw error;
}

export type { Effect };
