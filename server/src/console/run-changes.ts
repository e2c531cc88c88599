// Who is watching which run (the console's long polls), woken when this
// replica decides an event on the run or hands one of its tasks to a worker,
// or another replica says it did (console/replica-view.ts).
// With nobody watching, `moved` is one map lookup: the console costs the
// engine nothing while no one has it open.
export class RunChanges {
  private readonly byRun = new Map<string, Set<() => void>>();
  private readonly anyRun = new Set<() => void>();

  /** `firstViewer`: called when a viewer arrives with none before (other replicas should learn it soon). */
  constructor(private readonly firstViewer?: () => void) {}

  /** A run changed here (decided, or a task of it claimed). */
  moved(runId: string): void {
    if (this.anyRun.size > 0) for (const wake of [...this.anyRun]) wake();
    const set = this.byRun.get(runId);
    if (set) for (const wake of [...set]) wake();
  }

  /** Every run may have moved (another replica moved too many to name). */
  movedAll(): void {
    for (const wake of [...this.anyRun]) wake();
    for (const set of [...this.byRun.values()]) for (const wake of [...set]) wake();
  }

  /** Resolves when `runId` (any run when undefined) moves here, after `ms`, or on abort. */
  wait(runId: string | undefined, ms: number, signal?: AbortSignal): { promise: Promise<void>; cancel: () => void } {
    const first = this.watching === 0;
    let done!: () => void;
    const promise = new Promise<void>((resolve) => (done = resolve));
    let set = runId === undefined ? this.anyRun : this.byRun.get(runId);
    if (!set) this.byRun.set(runId!, (set = new Set()));
    const watchers = set;
    let finished = false;
    // Once only: a watch cancels its wait after a wake too, and a second pass could drop the set of later watchers.
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      signal?.removeEventListener("abort", finish);
      watchers.delete(finish);
      if (runId !== undefined && watchers.size === 0 && this.byRun.get(runId) === watchers) this.byRun.delete(runId);
      done();
    };
    const timer = setTimeout(finish, Math.max(0, ms));
    watchers.add(finish);
    if (first) this.firstViewer?.();
    if (signal?.aborted) finish();
    else signal?.addEventListener("abort", finish, { once: true });
    return { promise, cancel: finish };
  }

  get watching(): number {
    return this.byRun.size + this.anyRun.size;
  }
}
