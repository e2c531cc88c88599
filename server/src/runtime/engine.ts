// Carries events through: lock the run, decide, write, commit, then wake
// whoever waits. The only place where the pure decider meets the store.
import { createHash, randomUUID } from "node:crypto";
import { stringifyJson } from "@baton/protocol";
import type { TaskDef, WorkflowDef } from "@baton/sdk";
import { decide, Refusal, type Decision, type Effect, type RunEvent, type StartRunRequest } from "../engine/decider.js";
import { graphFor, type Graph } from "../engine/graph.js";
import { TERMINAL_WORKFLOW, type JsonObject, type RunState, type TaskState } from "../engine/model.js";
import { isWorkerTask, type SystemTaskServices } from "../engine/system-tasks.js";
import type { Clock } from "../clock.js";
import { Store, WriteConflict, type OutboxEntry, type RunTarget, type Tx } from "../store/store.js";
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
  /** Set for child runs: chosen by the parent's decider. */
  runId?: string;
  parentRunId?: string;
  parentTaskId?: string;
  depth?: number;
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
  private taskDefGeneration = 0;
  hooks: EngineHooks = { tasksReady: () => {}, runEnded: () => {}, runAsync: () => {} };

  /** Starts in progress now; beyond the limit new ones are refused, so overload sheds early instead of queueing. */
  private startsInFlight = 0;

  constructor(
    readonly store: Store,
    readonly clock: Clock,
    readonly services: SystemTaskServices,
    private readonly log: Logger,
    private readonly limits: { maxConcurrentStarts: number } = { maxConcurrentStarts: 256 },
  ) {}

  /** A definition by content hash; immutable, so cached forever. */
  async definition(hash: string, q?: Tx): Promise<{ def: WorkflowDef; graph: Graph }> {
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
  private async taskDefsFor(tx: Tx, def: WorkflowDef, tasks: TaskState[]): Promise<Map<string, TaskDef>> {
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
        const retryable = error instanceof WriteConflict || (code !== undefined && RETRYABLE_PG_CODES.has(code));
        if (!retryable || attempt >= 20) throw error;
        await new Promise((r) => setTimeout(r, Math.random() * 5 * (attempt + 1)));
      }
    }
  }

  /** Applies one event to one run, atomically. */
  async handle(target: RunTarget, event: RunEvent, options: { skipLocked?: boolean } = {}): Promise<Decision | undefined> {
    const handOffs: HandOff[] = [];
    const outcome = await this.withRetry(
      () =>
        this.store.event(target, options, async (tx, loaded) => {
          const now = this.clock.now();
          const { def, graph } = await this.definition(loaded.run.defHash, tx);
          let restartDef: Extract<RunEvent, { kind: "restart" }>["def"];
          if (event.kind === "restart" && event.def === undefined && event.useLatest) {
            const latest = await this.store.workflowDef(tx, loaded.run.name);
            if (latest) restartDef = { def: latest.def, hash: latest.hash, version: latest.version, graph: graphFor(latest.hash, latest.def) };
          }
          const taskDefs = await this.taskDefsFor(tx, restartDef?.def ?? def, loaded.tasks);
          const existing = new Set(loaded.tasks.map((t) => t.id));
          const decision = decide(
            // The tasks were loaded for this event alone: the decider may change them in place.
            { def, graph, run: loaded.run, tasks: loaded.tasks, taskDefs, now, newId: randomUUID, services: this.services, ownsTasks: true },
            restartDef ? { kind: "restart", useLatest: true, def: restartDef } : event,
          );
          const after = await this.write(tx, decision, existing, false, now, taskDefs, handOffs);
          return { decision, after };
        }),
      handOffs,
    );
    if (!outcome) {
      if (options.skipLocked) return undefined;
      throw new Refusal("NOT_FOUND", typeof target === "string" ? `no run ${target}` : `no task ${target.taskId}`);
    }
    await this.afterCommit(outcome.decision, outcome.after);
    return outcome.decision;
  }

  /** Starts a run; with an idempotency key (or a preset id) twice is once. */
  async start(options: StartOptions): Promise<{ runId: string; created: boolean }> {
    // Child runs (from the outbox) are work already accepted: never shed them.
    if (!options.parentRunId && this.startsInFlight >= this.limits.maxConcurrentStarts) {
      throw new Overloaded(`the server is busy (${this.startsInFlight} starts in progress); retry shortly`, 200);
    }
    this.startsInFlight++;
    try {
      return await this.startAccepted(options);
    } finally {
      this.startsInFlight--;
    }
  }

  private async startAccepted(options: StartOptions): Promise<{ runId: string; created: boolean }> {
    const resolved = await this.resolveDefinition(options);
    const handOffs: HandOff[] = [];
    const outcome = await this.withRetry(() =>
      this.store.tx(async (tx) => {
        const now = this.clock.now();
        if (options.definition) await this.store.putDef(tx, resolved.hash, resolved.def);
        const def = resolved.def;
        const run: RunState = {
          id: options.runId ?? randomUUID(),
          name: def.name,
          version: resolved.version,
          defHash: resolved.hash,
          status: "RUNNING",
          input: { ...(def.inputTemplate ?? {}), ...options.input },
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
          extra: options.depth ? { depth: options.depth } : {},
        };
        // Decide first, then insert the run as decided: one row write, and the
        // unique keys (id, idempotency key) make a second start a no-op.
        const taskDefs = await this.taskDefsFor(tx, def, []);
        const decision = decide(
          { def, graph: graphFor(resolved.hash, def), run, tasks: [], taskDefs, now, newId: randomUUID, services: this.services },
          { kind: "start" },
        );
        const inserted = await this.store.insertRun(tx, decision.run);
        if (!inserted) {
          const existing = options.idempotencyKey ? await this.store.runIdByIdempotencyKey(tx, options.idempotencyKey) : run.id;
          if (!existing) throw new Refusal("FAILED_PRECONDITION", "the run exists already");
          return { runId: existing, created: false, decision: undefined, after: undefined };
        }
        const after = await this.write(tx, decision, new Set(), true, now, taskDefs, handOffs);
        return { runId: run.id, created: true, decision, after };
      }),
      handOffs,
    );
    if (outcome.decision && outcome.after) await this.afterCommit(outcome.decision, outcome.after);
    return { runId: outcome.runId, created: outcome.created };
  }

  private async resolveDefinition(options: StartOptions): Promise<{ def: WorkflowDef; hash: string; version: number }> {
    if (options.definition) {
      const def = options.definition;
      const { validateWorkflowDef } = await import("@baton/sdk");
      const { errors } = validateWorkflowDef(def);
      if (errors.length > 0) {
        throw new Refusal("INVALID_ARGUMENT", `invalid inline definition: ${errors.map((e) => `${e.path || "/"}: ${e.message}`).join("; ")}`);
      }
      return { def, hash: definitionHash(def), version: def.version ?? 1 };
    }
    const found = await this.store.workflowDef(this.store.pool, options.name, options.version);
    if (!found) {
      throw new Refusal("NOT_FOUND", `no workflow definition ${options.name}${options.version !== undefined ? ` version ${options.version}` : ""}`);
    }
    return found;
  }

  /** Writes a decision inside its transaction; returns what to do after commit. */
  private async write(tx: Tx, decision: Decision, existing: Set<string>, isNew: boolean, now: number, taskDefs: Map<string, TaskDef>, handOffs: HandOff[]) {
    const { run, changed, removed, effects } = decision;
    const removedIds = new Set(removed);
    const inserts: TaskState[] = [];
    const updates: TaskState[] = [];
    for (const task of changed) (existing.has(task.id) && !removedIds.has(task.id) ? updates : inserts).push(task);

    const enqueue = new Map<string, TaskState>();
    const dequeue = new Set<string>();
    const outbox: OutboxEntry[] = [];
    const events: { sink: string; payload: JsonObject }[] = [];
    const asyncTasks: TaskState[] = [];
    for (const effect of effects) {
      switch (effect.kind) {
        case "enqueue":
          enqueue.set(effect.task.id, effect.task);
          break;
        case "dequeue":
          dequeue.add(effect.taskId);
          break;
        case "startRun":
          outbox.push({ kind: "startRun", payload: { ...effect.request, parentRunId: effect.request.linked ? run.id : "", requesterRunId: run.id } });
          break;
        case "terminateRun":
          outbox.push({ kind: "terminateRun", payload: effect });
          break;
        case "retryRun":
          outbox.push({ kind: "retryRun", payload: effect });
          break;
        case "runEnded":
          if (run.parentRunId && run.parentTaskId) {
            outbox.push({
              kind: "childEnded",
              payload: { parentRunId: run.parentRunId, taskId: run.parentTaskId, childId: run.id, status: run.status, output: run.output, reason: run.reason },
            });
          }
          break;
        case "runRevived":
          if (run.parentRunId && run.parentTaskId) {
            outbox.push({ kind: "childRevived", payload: { parentRunId: run.parentRunId, taskId: run.parentTaskId, childId: run.id } });
          }
          break;
        case "publishEvent":
          events.push({ sink: effect.sink, payload: effect.payload });
          break;
        case "runAsync":
          asyncTasks.push(effect.task);
          break;
      }
    }
    // Only tasks still waiting for a worker go to the queue; one a worker
    // here can take at once is leased to it directly.
    const ready = new Set<string>();
    const waiting = [...enqueue.values()].filter((t) => t.status === "SCHEDULED" && isWorkerTask(t.type) && !removedIds.has(t.id));
    for (const t of waiting) {
      if (t.visibleAt > now || hasClaimLimits(taskDefs.get(t.defName))) continue;
      const reservation = this.hooks.reserveWorker?.(t.defName);
      if (!reservation) continue;
      leaseTo(t, reservation.workerId, now);
      handOffs.push({ task: t, reservation });
    }
    const entries = waiting
      .filter((t) => t.status === "SCHEDULED")
      .map((t) => {
        if (t.visibleAt <= now) ready.add(t.defName);
        return { taskId: t.id, taskType: t.defName, runId: t.runId, priority: run.priority, visibleAt: t.visibleAt };
      });
    const queued = new Set(entries.map((e) => e.taskId));
    const ended = effects.some((e) => e.kind === "runEnded");
    const outboxIds = await this.store.writeEvent(tx, {
      run: isNew ? undefined : run,
      removed,
      inserts,
      updates,
      dequeue: [...dequeue].filter((id) => !queued.has(id)),
      enqueue: entries,
      outbox,
      events,
      now,
      // Delivered at commit: wakes dispatchers and waiters on other replicas.
      notifyTaskTypes: [...ready],
      notifyRunEnded: ended ? run.id : "",
    });
    return { ready, ended, outboxIds, asyncTasks, now, handOffs: [...handOffs] };
  }

  private async afterCommit(
    decision: Decision,
    after: { ready: Set<string>; ended: boolean; outboxIds: number[]; asyncTasks: TaskState[]; now: number; handOffs: HandOff[] },
  ): Promise<void> {
    for (const { task, reservation } of after.handOffs) {
      if (reservation.deliver(task)) continue;
      // The worker left between reservation and commit: back to the queue.
      await this.store.requeue(task.id, task.leaseToken).catch((error: unknown) => this.log.warn({ err: error, taskId: task.id }, "requeue failed; the lease will expire"));
      after.ready.add(task.defName);
    }
    if (after.ready.size > 0) this.hooks.tasksReady(after.ready, after.now);
    if (after.ended) this.hooks.runEnded(decision.run.id);
    for (const task of after.asyncTasks) this.hooks.runAsync(task);
    for (const id of after.outboxIds) await this.processOutbox(id).catch((error: unknown) => this.log.warn({ err: error, outbox: id }, "outbox item failed; it will be retried"));
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
        const p = payload as { parentRunId: string; taskId: string; childId: string; status: RunState["status"]; output: JsonObject; reason: string };
        await this.handle(p.parentRunId, { kind: "childEnded", taskId: p.taskId, childId: p.childId, status: p.status, output: p.output, reason: p.reason }).catch(
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
            await this.handle(run.parentRunId, { kind: "childEnded", taskId: run.parentTaskId, childId: run.id, status: run.status, output: run.output, reason: run.reason }).catch(ignoreRefusal);
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
