// Groups pending events into batches, one transaction each: events that
// arrive while earlier ones are being written share the next transaction, so
// a busy server commits many events per round trip and a quiet one commits
// each at once. A run's events never sit in two batches at the same time.
// A lane may be given fewer batches in flight than the whole (a long loop's
// continuations): its items then wait for their own lane's batches, and the
// others' go on past them.

export interface Batchable {
  /** Events in one lane only are batched together (e.g. skip-locked ticks apart from the rest). */
  readonly lane: string;
}

export class BatchQueue<T extends Batchable> {
  private pending: T[] = [];
  private inFlight = 0;
  /** Batches in flight per lane. */
  private readonly laneInFlight = new Map<string, number>();
  private scheduled = false;
  /** Runs with events in a batch being written. */
  private readonly busy = new Set<string>();

  constructor(
    /** Writes one batch; must not reject. Resolves when the batch's transaction has ended. */
    private readonly write: (items: T[]) => Promise<void>,
    /** The run an item belongs to, when known before its transaction. */
    private readonly runOf: (item: T) => string | undefined,
    private readonly limits: {
      maxInFlight: number;
      maxItems: number;
      /** Batches a lane may have in flight at once, where fewer than maxInFlight. */
      laneMaxInFlight?: Record<string, number>;
    },
  ) {}

  push(item: T): void {
    this.pending.push(item);
    // Items pushed in the same turn (the results of one UpdateTasks call,
    // one sweep's ticks) go in one batch: pump once they are all in.
    if (this.scheduled) return;
    this.scheduled = true;
    queueMicrotask(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  get size(): number {
    return this.pending.length;
  }

  private pump(): void {
    while (this.inFlight < this.limits.maxInFlight && this.pending.length > 0) {
      const { batch, runs } = this.take();
      if (batch.length === 0) return;
      const lane = batch[0]!.lane;
      this.inFlight++;
      this.laneInFlight.set(lane, (this.laneInFlight.get(lane) ?? 0) + 1);
      for (const run of runs) this.busy.add(run);
      void this.write(batch).finally(() => {
        this.inFlight--;
        this.laneInFlight.set(lane, this.laneInFlight.get(lane)! - 1);
        for (const run of runs) this.busy.delete(run);
        this.pump();
      });
    }
  }

  private laneHasRoom(lane: string): boolean {
    const max = this.limits.laneMaxInFlight?.[lane];
    return max === undefined || (this.laneInFlight.get(lane) ?? 0) < max;
  }

  /** The oldest items of one lane with room, up to the limit, skipping runs already being written. */
  private take(): { batch: T[]; runs: Set<string> } {
    const batch: T[] = [];
    const runs = new Set<string>();
    const rest: T[] = [];
    let lane: string | undefined;
    for (const item of this.pending) {
      const run = this.runOf(item);
      const free = run === undefined || !this.busy.has(run);
      if (free && batch.length < this.limits.maxItems && (lane === undefined ? this.laneHasRoom(item.lane) : item.lane === lane)) {
        lane = item.lane;
        batch.push(item);
        if (run !== undefined) runs.add(run);
      } else {
        rest.push(item);
      }
    }
    this.pending = rest;
    return { batch, runs };
  }
}
