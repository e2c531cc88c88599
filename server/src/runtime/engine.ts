// Carries events through: each event or start waits in the batch queue, its
// batch goes through the pipeline (pipeline.ts: load, decide, plan, write) on
// a transaction that locks its runs — or from memory, one statement, when it
// can — and after commit the engine wakes whoever waits (after-commit.ts).
// The only place where the pure decider meets the store.
import { charsOverNameLimit, MAX_NAME_CHARS, type WorkflowDef } from "@baton/sdk";
import { Refusal } from "../decider/contract.js";
import type { Effect, RunEvent } from "../decider/decider.js";
import type { Continued } from "../decider/evaluation.js";
import type { Graph } from "../decider/graph.js";
import type { Clock } from "../clock.js";
import { hasRunLimit } from "../concurrency/limit.js";
import { fairShareOfRun } from "../fairness/key.js";
import type { Logger } from "../logger.js";
import { isConnectionError, type LoadedRuns, type RunTarget, type Store } from "../store/store.js";
import { afterCommit, type AfterCommitDeps, type FollowUps } from "./after-commit.js";
import { runIdOf, withoutRepeatedStarts, type BatchItem, type BatchResults, type EventItem, type StartItem } from "./batch-items.js";
import { BatchQueue } from "./batches.js";
import { StartShares } from "./start-shares.js";
import { Overloaded, type EngineHooks, type EventOutcome, type StartOptions, type VersionChooser } from "./contract.js";
import { Definitions, type DefinitionStore } from "./definitions.js";
import { awaitFollowUps } from "./evaluations.js";
import type { HandOff } from "./hand-off.js";
import { Loader } from "./load.js";
import { Outbox, type OutboxDeps } from "./outbox.js";
import { NotFromMemory, runBatch, StartConflict, type BatchDone, type PipelineDeps } from "./pipeline.js";
import { startFairKey } from "./decide.js";
import { KEEP_MIN_TASKS, RunMemory } from "./run-memory.js";
import type { EngineServices } from "./services.js";
import type { Queries } from "../sandbox/queries.js";
import type { AfterCommit } from "./write-plan.js";

export { Overloaded, type EngineHooks, type EventOutcome, type Reservation, type StartOptions, type VersionChooser } from "./contract.js";
export type { Effect };

const RETRYABLE_PG_CODES = new Set(["40001", "40P01"]);
/**
 * The batch lanes of continuations (see `handle`): a loop's next iterations, and a dynamic fork's next branches,
 * apart. In one lane, a fork's next 1,000 branches waited for a long loop's batch to be written, and then shared
 * the next with it.
 */
const CONTINUE_LANES: Record<Continued, string> = { loop: "continue-loop", fork: "continue-fork" };
/**
 * The batch lane of the runs other runs start (see `start`): a fork's
 * children come 64 at a time (after-commit.ts), each locking its tree's count
 * (store/run-trees.ts). In the lane every caller shares, another key's start
 * went into their batch and was answered, and its task handed over, only once
 * all 64 were decided, written and committed.
 */
const TREE_LANE = "tree";

/**
 * A batch written and committed: its runs are current in memory; `settle`
 * answers its items once the work after commit is done, each once its own
 * run's follow-ups are (its evaluations decided, its outbox items carried out).
 */
interface Settled {
  after: AfterCommit;
  settle: (followUps: FollowUps) => void;
}

/** The operations on state the engine uses: its batches' transactions and writes, the reads they need, the outbox. */
export type EngineStore = PipelineDeps["store"] &
  DefinitionStore &
  OutboxDeps["store"] &
  AfterCommitDeps["store"] &
  Pick<Store, "inRunBatch" | "inUnlockedBatch" | "getRun" | "runIdByIdempotencyKey">;

/** The default of EngineLimits.maxRunsPerTree (BATON_MAX_RUNS_PER_TREE). */
export const DEFAULT_MAX_RUNS_PER_TREE = 10_000;

export interface EngineLimits {
  /** Starts callers asked for in progress at once (runs other runs start are not counted, nor shed). */
  maxConcurrentStarts: number;
  /** The most runs one run tree starts beside its root (store/run-trees.ts; default DEFAULT_MAX_RUNS_PER_TREE). */
  maxRunsPerTree?: number;
  maxBatchesInFlight?: number;
  maxBatchEvents?: number;
}

export interface EngineDeps {
  store: EngineStore;
  clock: Clock;
  /** What system tasks read, and the evaluator that runs user code. */
  services: EngineServices;
  log: Logger;
  limits?: EngineLimits;
  /** Chooses the version of a start that names none, when its workflow has a route. */
  router?: VersionChooser;
  /** What the engine tells the rest of the server (after commit, mostly). */
  hooks?: EngineHooks;
}

export class Engine {
  /** Starts in progress now, by key; beyond the limit (or a key's share) new ones are refused, so overload sheds early instead of queueing. */
  private readonly starts: StartShares;
  private readonly queue: BatchQueue<BatchItem>;
  private readonly definitions: Definitions;
  private readonly memory = new RunMemory();
  private readonly pipeline: PipelineDeps;
  private readonly outbox: Outbox;

  private readonly store: EngineStore;
  private readonly clock: Clock;
  private readonly services: EngineServices;
  private readonly log: Logger;
  /** JSONPath filters and JSON Schemas run here, off the serving thread (a start's input check, a definition's schema). */
  readonly queries: Queries;
  private readonly limits: EngineLimits;
  private readonly hooks: EngineHooks;

  constructor(deps: EngineDeps) {
    const { store, clock, services, log } = deps;
    this.store = store;
    this.clock = clock;
    this.services = services;
    this.queries = services.queries;
    this.log = log;
    this.limits = deps.limits ?? { maxConcurrentStarts: 256 };
    this.starts = new StartShares(this.limits.maxConcurrentStarts);
    this.hooks = deps.hooks ?? { tasksReady: () => {}, runEnded: () => {}, runAsync: () => {} };
    this.definitions = new Definitions(store, services.queries, deps.router);
    this.pipeline = {
      store,
      loader: new Loader(store, this.definitions, this.memory),
      definitions: this.definitions,
      memory: this.memory,
      services,
      reserveWorker: this.hooks.reserveWorker,
      maxRunsPerTree: this.limits.maxRunsPerTree ?? DEFAULT_MAX_RUNS_PER_TREE,
    };
    this.outbox = new Outbox({
      store,
      clock,
      log,
      handle: (target, event, options) => this.handle(target, event, options),
      start: (options) => this.start(options),
    });
    this.queue = new BatchQueue<BatchItem>(
      (items) => this.writeBatch(items),
      (item) => (item.kind === "start" ? undefined : runIdOf(item, (taskId) => this.memory.runOf(taskId))),
      {
        maxInFlight: this.limits.maxBatchesInFlight ?? 4,
        maxItems: this.limits.maxBatchEvents ?? 500,
        // Long loops going on past their decision's budget share one batch at a time, wide forks' next branches
        // another, and the runs other runs start another: the other slots stay for every other event and start,
        // which never wait behind a loop's next 100 iterations or share a transaction with a fork's children.
        laneMaxInFlight: { [CONTINUE_LANES.loop]: 1, [CONTINUE_LANES.fork]: 1, [TREE_LANE]: 1 },
      },
    );
  }

  /** A definition by content hash; immutable, so cached forever. */
  definition(hash: string): Promise<{ def: WorkflowDef; graph: Graph }> {
    return this.definitions.definition(hash);
  }

  /** Forgets the cached latest version of a workflow (all, without a name): it changed here or on another replica. */
  workflowDefsChanged(name?: string): void {
    this.definitions.workflowDefsChanged(name);
  }

  /** Forgets cached task definitions (one changed here or on another replica). */
  taskDefsChanged(): void {
    this.definitions.taskDefsChanged();
    this.hooks.taskDefsChanged?.();
  }

  /** Tasks claimed here from the queue: a narrow run kept in memory takes their new rows, so its next result is decided from memory. */
  claimed(tasks: Parameters<RunMemory["claimed"]>[0]): void {
    this.memory.claimed(tasks);
  }

  /** Starts `n` runs a raised limit admitted (their 'admitRun' items), at most 100 here and now; the timer sweep takes the rest. */
  async admitQueued(n: number): Promise<void> {
    await Promise.all(Array.from({ length: Math.min(n, 100) }, () => this.outbox.admitOne()));
  }

  /** Resolves once the runs freed slots admitted in the background so far have started. */
  admissionsDone(): Promise<void> {
    return this.outbox.admissionsDone();
  }

  /** Carries out one outbox item (or the oldest, when no id is given): see outbox.ts. */
  processOutbox(id?: number): Promise<boolean> {
    return this.outbox.process(id);
  }

  /**
   * Applies one event to one run, atomically. Events that arrive together
   * are decided and written together (see BatchQueue); each is still all or
   * nothing, and a refused one changes nothing. Undefined with skipLocked
   * when another transaction holds the run. `continuation`: the event goes on
   * with a run's loop, or its dynamic fork's branches, after its last decision's budget ran out (see BatchQueue's lanes).
   * `answerAtCommit`: answered once written, not once the evaluations it started are decided too.
   */
  handle(
    target: RunTarget,
    event: RunEvent,
    options: { skipLocked?: boolean; continuation?: Continued; answerAtCommit?: boolean } = {},
  ): Promise<EventOutcome | undefined> {
    return new Promise((resolve, reject) => {
      this.queue.push({
        kind: "event",
        lane: options.skipLocked ? "skip-locked" : options.continuation ? CONTINUE_LANES[options.continuation] : "wait",
        key: this.fairKeyOf(target),
        target,
        event,
        skipLocked: Boolean(options.skipLocked),
        answerAtCommit: Boolean(options.answerAtCommit),
        resolve,
        reject,
      });
    });
  }

  /** Starts a run; with an idempotency key (or a preset id) twice is once. */
  async start(options: StartOptions): Promise<{ runId: string; created: boolean }> {
    checkStartKeys(options);
    const key = options.caller ?? "";
    // Child runs (from the outbox) are work already accepted: never shed them, nor count them against callers' starts
    // (a tree of thousands of children had every other caller's start refused as busy).
    const child = Boolean(options.parentRunId);
    const refused = child ? undefined : this.starts.take(key);
    if (refused) throw new Overloaded(refused, 200);
    try {
      const resolved = await this.definitions.forStart(options);
      await options.admit?.(resolved.def);
      return await new Promise((resolve, reject) => {
        this.queue.push({
          kind: "start",
          lane: options.tree ? TREE_LANE : "wait",
          key: startFairKey({ options, resolved }),
          options,
          resolved,
          resolve,
          reject,
        });
      });
    } finally {
      if (!child) this.starts.release(key);
    }
  }

  /** The fairness key of an event's run, when the run is kept in memory (see BatchQueue: a quiet key's events go apart from a flood's). */
  private fairKeyOf(target: RunTarget): string | undefined {
    const runId = typeof target === "string" ? target : this.memory.runOf(target.taskId);
    const kept = runId === undefined ? undefined : this.memory.peek(runId);
    return kept && fairShareOfRun(kept.run, this.definitions.cached(kept.run.defHash)).key;
  }

  /**
   * Writes a batch and settles its items. Resolves once its transaction has
   * ended, before the effects after commit run: those may start events of
   * their own, which must not wait for this batch's slot.
   */
  private async writeBatch(items: BatchItem[]): Promise<void> {
    let done: Settled;
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
    const deps: AfterCommitDeps = {
      store: this.store,
      clock: this.clock,
      log: this.log,
      hooks: this.hooks,
      evaluator: this.services.evaluator,
      outbox: this.outbox,
      handle: (target, event, options) => this.handle(target, event, options),
    };
    void afterCommit(done.after, deps).then(
      (followUps) => done.settle(followUps),
      (error: unknown) => {
        this.log.warn({ err: error }, "work after commit failed");
        done.settle(new Map());
      },
    );
  }

  /** Decides and writes a batch: from memory when it can, else in one transaction (retried when it lost a race). */
  private async decideBatch(batch: BatchItem[]): Promise<Settled> {
    const items = withoutRepeatedStarts(batch);
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
            this.store.inRunBatch(
              {
                runIds: events.flatMap((e) => (typeof e.target === "string" ? [e.target] : [])),
                taskIds: events.flatMap((e) => (typeof e.target === "string" ? [] : [e.target.taskId])),
                cachedRunIds: this.cachedRunsFor(events),
              },
              { skipLocked: events.some((e) => e.skipLocked) },
              (tx, loaded) =>
                runBatch(
                  this.pipeline,
                  tx,
                  loaded,
                  events,
                  starts.filter((s) => !existing.has(s)),
                  this.clock.now(),
                  handOffs,
                  false,
                ),
            ),
          handOffs,
        );
        return this.committed(outcome, existing);
      } catch (error) {
        if (!(error instanceof StartConflict)) throw error;
        for (const item of error.starts) {
          const key = item.options.idempotencyKey;
          const found = key ? await this.store.runIdByIdempotencyKey(key) : item.options.runId;
          // The run that holds the key may have been rolled back meanwhile: then this start tries again.
          if (found) existing.set(item, found);
        }
      }
    }
  }

  /** Retries a transaction that lost a race (write conflict, deadlock, serialization). */
  private async withRetry<T>(fn: () => Promise<T>, handOffs: HandOff[]): Promise<T> {
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

  /** Committed: the runs decided are current in memory as written; the items are answered once the work after commit is done. */
  private committed(outcome: BatchDone, existing = new Map<StartItem, string>()): Settled {
    for (const kept of outcome.after.keep) this.memory.keep(kept);
    const results: BatchResults = outcome.results;
    return {
      after: outcome.after,
      settle: (followUps) => {
        for (const [item, result] of results) {
          if (result instanceof Error) {
            item.reject(result);
            continue;
          }
          // Another run's follow-ups in this batch (a script at its time limit, a loop going on for
          // thousands of iterations, a child whose first script spins) are no concern of this caller's:
          // it waits for its own run's only.
          const runId = result === undefined ? undefined : "runId" in result ? result.runId : result.run.id;
          const own = runId === undefined || (item.kind === "event" && item.answerAtCommit) ? undefined : followUps.get(runId);
          if (own) void awaitFollowUps(own).then(() => item.resolve(result as never));
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
    // A start under a per-key limit of running runs takes its key's slot inside a transaction, one in a tree its tree's count.
    if (starts.some((s) => s.options.definition || s.options.tree || hasRunLimit(s.resolved.def))) return undefined;
    const loaded: LoadedRuns = { runs: new Map(), runOfTask: new Map() };
    for (const item of events) {
      const { event, target } = item;
      if ((event.kind !== "taskResult" && event.kind !== "evaluated") || item.skipLocked || typeof target === "string") return undefined;
      const runId = this.memory.runOf(target.taskId);
      const kept = runId === undefined ? undefined : this.memory.peek(runId);
      const task = kept?.tasks.find((t) => t.id === target.taskId);
      // What memory holds of the task must be what the worker was given.
      if (!kept || kept.tasks.length >= KEEP_MIN_TASKS || task?.status !== "IN_PROGRESS" || task.leaseToken !== event.leaseToken) return undefined;
      loaded.runs.set(runId!, { run: kept.run, rev: kept.rev, tasks: kept.tasks, fresh: [] });
      loaded.runOfTask.set(target.taskId, runId!);
    }
    // Taken out while in use: the decider changes these objects in place, and a failed write leaves them wrong.
    for (const runId of loaded.runs.keys()) this.memory.take(runId);
    const handOffs: HandOff[] = [];
    try {
      return this.committed(await this.store.inUnlockedBatch((q) => runBatch(this.pipeline, q, loaded, events, starts, this.clock.now(), handOffs, true)));
    } catch (error) {
      for (const h of handOffs) h.reservation.release();
      // Memory was behind, or the write lost a race (a moved row, a deadlock): the slow path decides.
      const code = (error as { code?: unknown }).code;
      if (error instanceof NotFromMemory || (typeof code === "string" && RETRYABLE_PG_CODES.has(code))) return undefined;
      throw error;
    }
  }

  /**
   * Runs whose tasks this batch may take from memory: kept ones, with task results and children's ends only (a
   * child's end names a SUB_WORKFLOW task, which only the run's own events change). A parent of 10,000 children
   * was read whole, 10,000 task rows parsed, for each batch of its children's ends: in the subworkflows bench's
   * tree leg 2,207 such reads, 35 s of PostgreSQL's time, and the serving thread's largest cost.
   * And terminates: a terminate writes every open task, each against the revision memory holds, so one claimed
   * or extended since (which memory did not see) fails the write and the batch reads the run again; a terminate
   * of a 5,000-task fork read every row and indexed them afresh, most of the turn that decided it.
   */
  private cachedRunsFor(events: EventItem[]): string[] {
    const eligible = new Map<string, boolean>();
    for (const item of events) {
      const runId = runIdOf(item, (taskId) => this.memory.runOf(taskId));
      if (runId === undefined || !this.memory.has(runId)) continue;
      const { kind } = item.event;
      const fromMemory = kind === "taskResult" || kind === "evaluated" || kind === "childEnded" || kind === "terminate";
      eligible.set(runId, (eligible.get(runId) ?? true) && fromMemory);
    }
    return [...eligible].filter(([, ok]) => ok).map(([id]) => id);
  }
}

/** A run's correlation id and idempotency key are indexed: one too long failed its start's write (and, from run data, a START_WORKFLOW's outbox item, again and again). */
function checkStartKeys(options: StartOptions): void {
  for (const field of ["correlationId", "idempotencyKey"] as const) {
    const value = options[field];
    const over = value ? charsOverNameLimit(value) : 0;
    if (over > 0) {
      throw new Refusal(
        "INVALID_ARGUMENT",
        `${field} is ${MAX_NAME_CHARS + over} characters long, over the ${MAX_NAME_CHARS} allowed (it is indexed): use a shorter one, such as a hash of it`,
      );
    }
  }
}
