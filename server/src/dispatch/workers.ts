// The workers connected to this replica, for ListWorkers (`baton tasks`, the
// console) and the replica's heartbeat: a dispatch stream is listed while it
// is open; a long-polling worker from its first poll until it has not polled
// for POLL_GONE_MS. A worker key may poll under any number of worker ids and
// open many streams of 100 task types each: so long pollers are forgotten as
// they go (not only when listed) and at most MAX_POLLERS are kept, and a list
// stops at about LIST_NAME_BYTES of names (its heartbeat is written every 2 s).
export interface ConnectedWorker {
  /** Numbers this replica's workers in the order they connected (ListWorkers pages by it). */
  id: number;
  workerId: string;
  taskTypes: string[];
  kind: "dispatch" | "poll";
  freeSlots: number;
  connectedAt: number;
  lastSeenAt: number;
  delivered: number;
}

/** A long-polling worker is gone when it has not polled for this long. */
export const POLL_GONE_MS = 30_000;
/** Long pollers (worker id and task type) kept; past it, the one seen longest ago is forgotten. */
export const MAX_POLLERS = 10_000;
/** A list ends once its workers' ids and task types pass this many characters (the most recently seen are listed). */
export const LIST_NAME_CHARS = 1024 * 1024;

export class ConnectedWorkers {
  private readonly streams = new Set<ConnectedWorker>();
  /** Least recently seen first: each poll moves its entry to the end. */
  private readonly pollers = new Map<string, ConnectedWorker>();
  private lastId = 0;

  constructor(private readonly now: () => number = Date.now) {}

  /** A dispatch stream subscribed; returns the entry to update and to drop when the stream ends. */
  stream(workerId: string, taskTypes: string[]): ConnectedWorker {
    const at = this.now();
    const entry: ConnectedWorker = { id: ++this.lastId, workerId, taskTypes, kind: "dispatch", freeSlots: 0, connectedAt: at, lastSeenAt: at, delivered: 0 };
    this.streams.add(entry);
    return entry;
  }

  /** A stream granted `credits` more (`free` now) or was handed `delivered` tasks. */
  streamed(entry: ConnectedWorker, free: number, delivered = 0): void {
    entry.freeSlots = free;
    entry.delivered += delivered;
    if (delivered === 0) entry.lastSeenAt = this.now();
  }

  closed(entry: ConnectedWorker): void {
    this.streams.delete(entry);
  }

  /** A long poll began (`count` slots asked for) or ended (`count` 0, `delivered` tasks). */
  polled(workerId: string, taskType: string, count: number, delivered = 0): void {
    const at = this.now();
    const key = `${workerId}\u0000${taskType}`;
    let entry = this.pollers.get(key);
    if (entry) this.pollers.delete(key);
    else entry = { id: ++this.lastId, workerId, taskTypes: [taskType], kind: "poll", freeSlots: 0, connectedAt: at, lastSeenAt: at, delivered: 0 };
    this.pollers.set(key, entry);
    this.forgetGone(at);
    entry.lastSeenAt = at;
    entry.freeSlots = count;
    entry.delivered += delivered;
  }

  /** Long pollers kept now. */
  get pollerCount(): number {
    return this.pollers.size;
  }

  list(taskType?: string): ConnectedWorker[] {
    this.forgetGone(this.now());
    const listed: ConnectedWorker[] = [];
    let chars = 0;
    // Streams, then pollers most recently seen first, until the names listed pass the limit.
    for (const w of [...this.streams, ...[...this.pollers.values()].reverse()]) {
      if (taskType && !w.taskTypes.includes(taskType)) continue;
      if (chars >= LIST_NAME_CHARS) break;
      listed.push(w);
      chars += w.workerId.length + w.taskTypes.reduce((n, type) => n + type.length, 0);
    }
    return listed;
  }

  /** Forgets pollers not seen for POLL_GONE_MS and waiting on nothing, and the ones seen longest ago past MAX_POLLERS. */
  private forgetGone(now: number): void {
    const cutoff = now - POLL_GONE_MS;
    for (const [key, entry] of this.pollers) {
      // Least recently seen first: past the first still here, every one is.
      if (this.pollers.size <= MAX_POLLERS && entry.lastSeenAt >= cutoff) break;
      if (this.pollers.size > MAX_POLLERS || entry.freeSlots === 0) this.pollers.delete(key);
    }
  }
}
