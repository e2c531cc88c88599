// A read many callers may ask for at once, made once for them all: at most one
// runs; callers arriving while it runs share the next one, which starts when
// it ends, so every caller's answer was read after it asked. Twenty callers of
// a read that scans a table cost two scans, not twenty connections.
export class CoalescedRead<T> {
  private running: Promise<T> | undefined;
  private queued: Promise<T> | undefined;

  /** The answer of a read begun after this call; `read` is made by the caller that begins one. */
  get(read: () => Promise<T>): Promise<T> {
    if (this.queued) return this.queued;
    if (!this.running) return this.begin(read);
    const next = this.running.then(
      () => this.begin(read),
      () => this.begin(read),
    );
    this.queued = next;
    return next;
  }

  /** No read runs or waits to. */
  get idle(): boolean {
    return this.running === undefined && this.queued === undefined;
  }

  private begin(read: () => Promise<T>): Promise<T> {
    this.queued = undefined;
    const reading = read();
    this.running = reading;
    const done = () => {
      if (this.running === reading) this.running = undefined;
    };
    reading.then(done, done);
    return reading;
  }
}

/** CoalescedRead per key (a run id): an entry lives while its read runs or waits to. */
export class CoalescedReads<T> {
  private readonly byKey = new Map<string, CoalescedRead<T>>();

  get(key: string, read: () => Promise<T>): Promise<T> {
    const reads = this.byKey.get(key) ?? new CoalescedRead<T>();
    this.byKey.set(key, reads);
    const answer = reads.get(read);
    const settled = () => {
      if (reads.idle && this.byKey.get(key) === reads) this.byKey.delete(key);
    };
    answer.then(settled, settled);
    return answer;
  }
}

/**
 * Reads by key that callers asking while one runs share, for filling a cache:
 * any answer current when they asked will do. A burst of starts just after a
 * definition changed (its cache entry dropped) made one query each, answered
 * over many turns; sharing one, they go on together (and share a batch).
 */
export class SharedReads<T> {
  private readonly running = new Map<string, Promise<T>>();

  get(key: string, read: () => Promise<T>): Promise<T> {
    const running = this.running.get(key);
    if (running) return running;
    const reading = read();
    this.running.set(key, reading);
    const done = () => {
      if (this.running.get(key) === reading) this.running.delete(key);
    };
    reading.then(done, done);
    return reading;
  }
}
