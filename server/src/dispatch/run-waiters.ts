// Callers blocked in start-and-wait / WaitWorkflow, woken when a run ends here
// or on another replica (NOTIFY baton_runs).
import { KeyedWaiters } from "../keyed-waiters.js";

export class RunWaiters {
  private readonly waiting = new KeyedWaiters<string>();

  /** Resolves when `runId` is reported ended, or after `ms`. */
  wait(runId: string, ms: number, signal?: AbortSignal): { promise: Promise<void>; cancel: () => void } {
    return this.waiting.wait(runId, ms, signal);
  }

  ended(runId: string): void {
    this.waiting.wake(runId);
  }
}
