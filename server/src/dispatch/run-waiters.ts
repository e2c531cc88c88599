// Callers blocked in start-and-wait / WaitWorkflow, woken when a run ends here
// or on another replica (NOTIFY baton_runs).
export class RunWaiters {
  private readonly waiting = new Map<string, Set<() => void>>();

  /** Resolves when `runId` is reported ended, or after `ms`. */
  wait(runId: string, ms: number, signal?: AbortSignal): { promise: Promise<void>; cancel: () => void } {
    let done!: () => void;
    const promise = new Promise<void>((resolve) => (done = resolve));
    let set = this.waiting.get(runId);
    if (!set) this.waiting.set(runId, (set = new Set()));
    let finished = false;
    // Once only: the signal of a gRPC call is aborted after every answer too (grpc-js says
    // "cancelled" once the status is sent), and a second pass could drop the set of later waiters.
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      set!.delete(finish);
      if (set!.size === 0 && this.waiting.get(runId) === set) this.waiting.delete(runId);
      done();
    };
    const timer = setTimeout(finish, Math.max(0, ms));
    set.add(finish);
    signal?.addEventListener("abort", finish, { once: true });
    return { promise, cancel: finish };
  }

  ended(runId: string): void {
    for (const finish of [...(this.waiting.get(runId) ?? [])]) finish();
  }
}
