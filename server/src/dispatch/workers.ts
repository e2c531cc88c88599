// The workers connected to this replica, for ListWorkers (`baton tasks`, the
// console): a dispatch stream is listed while it is open; a long-polling
// worker from its first poll until it has not polled for POLL_GONE_MS.
export interface ConnectedWorker {
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

export class ConnectedWorkers {
  private readonly streams = new Set<ConnectedWorker>();
  private readonly pollers = new Map<string, ConnectedWorker>();

  constructor(private readonly now: () => number = Date.now) {}

  /** A dispatch stream subscribed; returns the entry to update and to drop when the stream ends. */
  stream(workerId: string, taskTypes: string[]): ConnectedWorker {
    const at = this.now();
    const entry: ConnectedWorker = { workerId, taskTypes, kind: "dispatch", freeSlots: 0, connectedAt: at, lastSeenAt: at, delivered: 0 };
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
    if (!entry) this.pollers.set(key, (entry = { workerId, taskTypes: [taskType], kind: "poll", freeSlots: 0, connectedAt: at, lastSeenAt: at, delivered: 0 }));
    entry.lastSeenAt = at;
    entry.freeSlots = count;
    entry.delivered += delivered;
  }

  list(taskType?: string): ConnectedWorker[] {
    const cutoff = this.now() - POLL_GONE_MS;
    for (const [key, entry] of this.pollers) if (entry.lastSeenAt < cutoff && entry.freeSlots === 0) this.pollers.delete(key);
    const all = [...this.streams, ...this.pollers.values()];
    return taskType ? all.filter((w) => w.taskTypes.includes(taskType)) : all;
  }
}
