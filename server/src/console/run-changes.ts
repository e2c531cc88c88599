// Who is watching which run (the console's long polls), woken when this
// replica decides an event on the run or hands one of its tasks to a worker,
// or another replica says it did (console/replica-view.ts).
// With nobody watching, `moved` is two map lookups: the console costs the
// engine nothing while no one has it open.
import { KeyedWaiters } from "../keyed-waiters.js";

export class RunChanges {
  /** By run id; undefined for watchers of any run. */
  private readonly watchers = new KeyedWaiters<string | undefined>();

  /** `firstViewer`: called when a viewer arrives with none before (other replicas should learn it soon). */
  constructor(private readonly firstViewer?: () => void) {}

  /** A run changed here (decided, or a task of it claimed). */
  moved(runId: string): void {
    this.watchers.wake(undefined);
    this.watchers.wake(runId);
  }

  /** Every run may have moved (another replica moved too many to name). */
  movedAll(): void {
    this.watchers.wakeAll();
  }

  /** Resolves when `runId` (any run when undefined) moves here, after `ms`, or on abort. */
  wait(runId: string | undefined, ms: number, signal?: AbortSignal): { promise: Promise<void>; cancel: () => void } {
    const first = this.watching === 0;
    const waiting = this.watchers.wait(runId, ms, signal);
    if (first && this.watching > 0) this.firstViewer?.();
    return waiting;
  }

  /** Runs watched (watching any run counts as one). */
  get watching(): number {
    return this.watchers.size;
  }
}
