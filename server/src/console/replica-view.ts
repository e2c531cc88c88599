// The console's view of every replica, not only the one the browser talks
// to. Each replica beats every BEAT_MS into baton.replicas (the workers
// connected to it, how many console viewers wait on it) and reads the
// others' rows in the same statement. While viewers wait on another replica,
// the runs this one moves are sent to it, coalesced, on NOTIFY
// baton_runs_moved; with nobody watching anywhere nothing is sent.
import { hostname } from "node:os";
import { randomUUID } from "node:crypto";
import type { Logger } from "../logger.js";
import type { ConnectedWorker, ConnectedWorkers } from "../dispatch/workers.js";
import type { ReplicaPresence, Store } from "../store/store.js";
import type { RunChanges } from "./run-changes.js";

/** How often a replica beats (and learns the others' workers and viewers). */
export const BEAT_MS = 2000;
/** A replica not beaten for this long is left out; for GONE_MS, its row is removed. */
const STALE_MS = 3 * BEAT_MS;
const GONE_MS = 60_000;
/** Moves are sent at most this often. */
const FLUSH_MS = 100;
/** More run ids than this in one message: "any run may have moved". */
const MAX_IDS = 150;

export type ReplicaWorker = ConnectedWorker & { replica: string };

export class ReplicaView {
  readonly replica = `${hostname()}:${process.pid}:${randomUUID().slice(0, 8)}`;
  private others: ReplicaPresence[] = [];
  private readonly pending = new Set<string>();
  private flushTimer: NodeJS.Timeout | undefined;
  private beatTimer: NodeJS.Timeout | undefined;
  private beating: Promise<void> | undefined;
  private stopped = false;
  /** Viewers here as of the last beat (the others know of them from it). */
  private reportedWatching = 0;

  constructor(
    private readonly store: Pick<Store, "beatReplica" | "leaveReplicas" | "announceRunsMoved">,
    private readonly workers: ConnectedWorkers,
    private readonly changes: RunChanges,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await this.beat();
    const tick = () => {
      if (this.stopped) return;
      void this.beat().finally(() => {
        if (!this.stopped) this.beatTimer = setTimeout(tick, BEAT_MS).unref();
      });
    };
    this.beatTimer = setTimeout(tick, BEAT_MS).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.beatTimer);
    clearTimeout(this.flushTimer);
    await this.beating?.catch(() => {});
    await this.store.leaveReplicas(this.replica).catch(() => {});
  }

  /** A first viewer arrived here: beat now, unless the others already know of viewers here. */
  beatSoon(): void {
    if (this.reportedWatching === 0 && !this.beating && !this.stopped) void this.beat();
  }

  private beat(): Promise<void> {
    const now = Date.now();
    const mine: ReplicaPresence = { replica: this.replica, workers: this.workers.list(), watching: this.changes.watching, beatAt: now };
    this.reportedWatching = mine.watching;
    this.beating = this.store
      .beatReplica(mine, now - STALE_MS, now - GONE_MS)
      .then((others) => {
        this.others = others;
      })
      .catch((error: unknown) => this.log.warn({ err: error }, "replica heartbeat failed; the console may miss other replicas' workers for a while"))
      .finally(() => {
        this.beating = undefined;
      });
    return this.beating;
  }

  /** The workers connected to every replica (this one's as of now, the others' as of their last beat). */
  workersEverywhere(taskType?: string): ReplicaWorker[] {
    const fresh = Date.now() - STALE_MS;
    const all: ReplicaWorker[] = this.workers.list().map((w) => ({ ...w, replica: this.replica }));
    for (const other of this.others) {
      if (other.beatAt < fresh) continue;
      for (const w of other.workers) all.push({ ...w, replica: other.replica });
    }
    return taskType ? all.filter((w) => w.taskTypes.includes(taskType)) : all;
  }

  /** A run moved here: wake this replica's viewers, and tell the others' when they have some. */
  moved(runId: string): void {
    this.changes.moved(runId);
    if (!this.othersWatch()) return;
    this.pending.add(runId);
    this.flushTimer ??= setTimeout(() => void this.flush(), FLUSH_MS);
  }

  /** Whether tasks claimed here should be announced (a viewer here or on another replica). */
  get anyoneWatching(): boolean {
    return this.changes.watching > 0 || this.othersWatch();
  }

  /** Runs moved on another replica (undefined: any may have). */
  movedElsewhere(from: string, runIds: string[] | undefined): void {
    if (from === this.replica) return;
    if (runIds === undefined) this.changes.movedAll();
    else for (const id of runIds) this.changes.moved(id);
  }

  private othersWatch(): boolean {
    const fresh = Date.now() - STALE_MS;
    return this.others.some((o) => o.watching > 0 && o.beatAt >= fresh);
  }

  private async flush(): Promise<void> {
    this.flushTimer = undefined;
    if (this.pending.size === 0 || this.stopped) return;
    const ids = this.pending.size > MAX_IDS ? undefined : [...this.pending];
    this.pending.clear();
    await this.store
      .announceRunsMoved(this.replica, ids)
      .catch((error: unknown) => this.log.warn({ err: error }, "could not tell other replicas' viewers that runs moved; they recheck on their own"));
  }
}
