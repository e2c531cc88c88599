// Groups pending events into batches, one transaction each: events that
// arrive while earlier ones are being written share the next transaction, so
// a busy server commits many events per round trip and a quiet one commits
// each at once. A run's events never sit in two batches at the same time.
// A lane may be given fewer batches in flight than the whole (a long loop's
// continuations): its items then wait for their own lane's batches, and the
// others' go on past them.
//
// A quiet fairness key's items never share a batch with a flooding key's,
// and go first: under one key's flood of results a quiet key's start shared
// a transaction with hundreds of the flood's runs, locked, read, decided and
// written before it committed. The flooding key is the one with the most
// items here, past a few; every other key is quiet, however many items it
// has (a small key's 8 starts at a time and their results came to 30 and
// more while a flood's batches were written); items of unknown key are not
// quiet while a key floods. While a key floods and every slot is taken, one
// more batch of quiet items may go.

export interface Batchable {
  /** Events in one lane only are batched together (e.g. skip-locked ticks apart from the rest). */
  readonly lane: string;
  /** The fairness key of the item's run ("" for none), when known before its transaction (items of unknown key count as one key). */
  readonly key?: string | undefined;
}

/** The key with the most items waiting or being written floods past this many: its items go in batches of their own, after the others'. */
export const QUIET_ITEMS = 16;

export class BatchQueue<T extends Batchable> {
  private pending: T[] = [];
  private inFlight = 0;
  /** Batches in flight per lane. */
  private readonly laneInFlight = new Map<string, number>();
  private scheduled = false;
  /** Runs with events in a batch being written. */
  private readonly busy = new Set<string>();
  /** Items waiting or being written, by fairness key (items of unknown key count as one key). */
  private readonly perKey = new Map<string | undefined, number>();

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
    this.perKey.set(item.key, (this.perKey.get(item.key) ?? 0) + 1);
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
    while (this.pending.length > 0) {
      // Past the limit, one batch of quiet keys' items may go while a key floods.
      const quietOnly = this.inFlight >= this.limits.maxInFlight;
      if (quietOnly && this.inFlight > this.limits.maxInFlight) return;
      const { batch, runs } = this.take(quietOnly);
      if (batch.length === 0) return;
      const lane = batch[0]!.lane;
      this.inFlight++;
      this.laneInFlight.set(lane, (this.laneInFlight.get(lane) ?? 0) + 1);
      for (const run of runs) this.busy.add(run);
      void this.write(batch).finally(() => {
        this.inFlight--;
        this.laneInFlight.set(lane, this.laneInFlight.get(lane)! - 1);
        for (const run of runs) this.busy.delete(run);
        for (const item of batch) {
          const left = this.perKey.get(item.key)! - 1;
          if (left === 0) this.perKey.delete(item.key);
          else this.perKey.set(item.key, left);
        }
        this.pump();
      });
    }
  }

  private laneHasRoom(lane: string): boolean {
    const max = this.limits.laneMaxInFlight?.[lane];
    return max === undefined || (this.laneInFlight.get(lane) ?? 0) < max;
  }

  /**
   * The oldest items of one lane with room, up to the limit, skipping runs
   * already being written: quiet keys' items when any can go (`quietOnly`:
   * only those), else flooding keys'.
   */
  private take(quietOnly: boolean): { batch: T[]; runs: Set<string> } {
    const free = (item: T) => {
      const run = this.runOf(item);
      return run === undefined || !this.busy.has(run);
    };
    const flooding = this.floodingKey();
    // An item of unknown key may be the flood's: it is not quiet while a key floods.
    const quiet = (item: T) => flooding === null || (item.key !== undefined && item.key !== flooding.key);
    // Past the limit only while a key floods, and only for quiet keys' items.
    if (quietOnly && flooding === null) return { batch: [], runs: new Set() };
    const flood = !this.pending.some((item) => quiet(item) && free(item) && this.laneHasRoom(item.lane));
    if (flood && quietOnly) return { batch: [], runs: new Set() };
    const batch: T[] = [];
    const runs = new Set<string>();
    const rest: T[] = [];
    let lane: string | undefined;
    for (const item of this.pending) {
      const run = this.runOf(item);
      if (
        quiet(item) !== flood &&
        free(item) &&
        batch.length < this.limits.maxItems &&
        (lane === undefined ? this.laneHasRoom(item.lane) : item.lane === lane)
      ) {
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

  /** The key with the most items waiting or being written, when it has more than QUIET_ITEMS (null: none floods). */
  private floodingKey(): { key: string | undefined } | null {
    let most: { key: string | undefined; count: number } | null = null;
    for (const [key, count] of this.perKey) if (count > QUIET_ITEMS && (most === null || count > most.count)) most = { key, count };
    return most;
  }
}
