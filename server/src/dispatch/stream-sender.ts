// What a dispatch stream holds back. The tasks handed to a worker's stream
// are written to it a few at a time (at most `limit()` written and not gone
// out yet), the next one taken in turn across the fairness keys of what it
// holds. Written all at once, a claim's tasks lined up in the stream, and a
// small key's task handed over a moment later went out behind every one of a
// flood's (the worker reads in order); held here, it goes out after at most
// one task of each other key. That counts where the stream is what is slow
// (large inputs, a slow link, a busy server): under the bench's flood a
// stream held 30-40 tasks unwritten most of the time. A task of a key
// holding nothing unwritten is written at once, in room past the limit: held,
// it waited for a write to go out (under the flood, two to four turns of the
// event loop, 45-110 ms) to go out after at most one task of each other
// key all the same. A quiet key's task
// handed over at commit with no slot free takes the place of a held task of
// the key holding the most (swap), which goes back to the queue unwritten.
//
// Held tasks are leased to the stream's worker and count against its
// credits, as written ones do. One held for half the lease it had left when
// handed over (and a second at least: a lease that short would otherwise go
// round at once) goes back to the queue rather than out (`stale`): the worker
// would have too little of it left. What is still held when the stream ends
// never went out, and goes back to the queue at once (`close`); so does what
// was written and had not gone out when the call ended (`lost`): grpc-js never
// calls back a write the call was cancelled under (a worker gone, or one that
// stopped reading), and that task would otherwise stay leased to a worker that
// never got it until its lease ran out. A write that went out keeps its lease:
// the worker may be running it.
import type { ClaimedTask } from "../store/store.js";

/** The least a task is held before it may count as held too long. */
const MIN_STALE_MS = 1000;

interface Held {
  task: ClaimedTask;
  /** When it was handed to the stream (the server's clock). */
  since: number;
}

export class StreamSender {
  /** Tasks not written yet, per fairness key, in claim order; a key's place in the map is its turn (after each write it goes last). */
  private readonly held = new Map<string, Held[]>();
  private count = 0;
  /** The key that held the most tasks when it last grew (see yields). */
  private heaviest: string | undefined;
  /** Written tasks not gone out yet. */
  private readonly unsent = new Set<ClaimedTask>();
  private closed = false;

  constructor(
    /** Writes one task to the stream; calls `sent` once it has gone out (never, if it did not). */
    private readonly write: (task: ClaimedTask, sent: () => void) => void,
    /** How many written tasks may wait to go out, now (Infinity: write whatever comes at once). */
    private readonly limit: () => number,
    /** The server's clock. */
    private readonly now: () => number,
    /** A held task that stayed too long: it goes back to the queue, and its slot to the worker. */
    private readonly stale: (task: ClaimedTask) => void,
  ) {}

  /** Tasks held, not written yet. */
  get holding(): number {
    return this.count;
  }

  /** Takes tasks handed to the stream and writes what the limit lets out; false once closed (the caller puts them back). */
  push(tasks: readonly ClaimedTask[]): boolean {
    if (this.closed) return false;
    const since = this.now();
    const now = new Set<string>();
    for (const task of tasks) {
      const key = task.run.fairKey;
      // A key holding nothing unwritten takes its turn now, one task of it,
      // in room past the limit (as much again): held, it would wait for one
      // of the written tasks to go out, several turns of a busy server's
      // event loop, to be written after at most one task of each other key.
      if (!this.held.has(key) && !now.has(key) && this.unsent.size < 2 * this.limit()) {
        now.add(key);
        this.send(task);
        continue;
      }
      let queue = this.held.get(key);
      if (queue) queue.push({ task, since });
      else this.held.set(key, (queue = [{ task, since }]));
      this.count++;
      if (queue.length > (this.heaviest === undefined ? 0 : (this.held.get(this.heaviest)?.length ?? 0))) this.heaviest = key;
    }
    this.flush();
    return true;
  }

  /**
   * Whether a task of `key` handed over with no slot free may take the place
   * of a held task (see swap): some other key holds at least two more here.
   * The key checked is the one that held the most when it last grew (O(1)):
   * it may hold fewer now, so this may say no where a swap was possible.
   */
  yields(key: string): boolean {
    if (this.closed || this.heaviest === undefined || this.heaviest === key) return false;
    return (this.held.get(this.heaviest)?.length ?? 0) >= (this.held.get(key)?.length ?? 0) + 2;
  }

  /**
   * How many swaps any other key would get in a row, yields() holding for
   * each: half the gap between the key holding the most and the next.
   * Looks at every key held here (no more than the stream's slots).
   */
  spare(): number {
    if (this.closed || this.heaviest === undefined) return 0;
    let next = 0;
    for (const [key, queue] of this.held) if (key !== this.heaviest) next = Math.max(next, queue.length);
    return Math.max(0, Math.floor(((this.held.get(this.heaviest)?.length ?? 0) - next) / 2));
  }

  /**
   * Takes `task` in place of the last held task of the key that holds the
   * most (when yields() still says so): the stream's slots stay as many.
   * Returns the task given up, never written (it goes back to the queue), or
   * undefined, taking nothing.
   */
  swap(task: ClaimedTask): ClaimedTask | undefined {
    if (!this.yields(task.run.fairKey)) return undefined;
    const key = this.heaviest!;
    const queue = this.held.get(key)!;
    const out = queue.pop()!;
    if (queue.length === 0) this.held.delete(key);
    this.count--;
    this.push([task]);
    return out.task;
  }

  /** Writes held tasks, a key at a time, while the limit allows. */
  flush(): void {
    while (!this.closed && this.count > 0 && this.unsent.size < this.limit()) {
      const [key, queue] = this.held.entries().next().value!;
      const { task, since } = queue.shift()!;
      this.held.delete(key);
      if (queue.length > 0) this.held.set(key, queue);
      this.count--;
      const heldMs = this.now() - since;
      if (heldMs >= MIN_STALE_MS && heldMs >= (task.leaseExpiresAt - since) / 2) {
        this.stale(task);
        continue;
      }
      this.send(task);
    }
  }

  /** Writes one task; once it has gone out, the next held one may follow. */
  private send(task: ClaimedTask): void {
    this.unsent.add(task);
    this.write(task, () => {
      // The call ended first: `lost` gave it back already.
      if (!this.unsent.delete(task)) return;
      this.flush();
    });
  }

  /** The worker takes no more (the stream ended, or is ending): returns what it still held (never written), for the queue. */
  close(): ClaimedTask[] {
    this.closed = true;
    const left = [...this.held.values()].flat().map((h) => h.task);
    this.held.clear();
    this.count = 0;
    return left;
  }

  /**
   * The call is over: closes, and returns what was written and never went
   * out, for the queue. Not when the worker only half-closed: what was
   * written still goes out to it before the call ends.
   */
  lost(): ClaimedTask[] {
    const held = this.close();
    const unsent = [...this.unsent];
    this.unsent.clear();
    return [...held, ...unsent];
  }
}
