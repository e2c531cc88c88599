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
