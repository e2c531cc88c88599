// Callers waiting on a key (a run) until it is woken, a time passes or their
// call is aborted: the long polls of WaitWorkflow and of the console.
export class KeyedWaiters<K> {
  private readonly byKey = new Map<K, Set<() => void>>();

  /** Resolves when `key` is woken, after `ms`, or on abort; `cancel` resolves it at once. */
  wait(key: K, ms: number, signal?: AbortSignal): { promise: Promise<void>; cancel: () => void } {
    let done!: () => void;
    const promise = new Promise<void>((resolve) => (done = resolve));
    let set = this.byKey.get(key);
    if (!set) this.byKey.set(key, (set = new Set()));
    const waiters = set;
    let finished = false;
    // Once only: a gRPC call's signal is aborted after every answer too (grpc-js says "cancelled" once the
    // status is sent), a console watch cancels its wait after a wake, and a second pass could drop later waiters.
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      waiters.delete(finish);
      if (waiters.size === 0 && this.byKey.get(key) === waiters) this.byKey.delete(key);
      done();
    };
    const timer = setTimeout(finish, Math.max(0, ms));
    waiters.add(finish);
    if (signal?.aborted) finish();
    else signal?.addEventListener("abort", finish, { once: true });
    return { promise, cancel: finish };
  }

  /** Wakes everyone waiting on `key`. */
  wake(key: K): void {
    const set = this.byKey.get(key);
    if (set) for (const finish of [...set]) finish();
  }

  /** Wakes everyone. */
  wakeAll(): void {
    for (const set of [...this.byKey.values()]) for (const finish of [...set]) finish();
  }

  /** Keys waited on. */
  get size(): number {
    return this.byKey.size;
  }
}
