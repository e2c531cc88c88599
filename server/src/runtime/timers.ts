// Fires due timers: any replica sweeps runs whose wake time has come (or whose
// running task's lease ran out) and gives each a "tick" event. A run another
// replica is busy with is skipped, not waited for. Also carries out outbox
// items a crashed process left behind.
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import type { Store } from "../store/store.js";
import type { Engine } from "./engine.js";
import { startTicker } from "../ticker.js";

export class Timers {
  private stopTicker: (() => void) | undefined;
  private sweeping: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly engine: Pick<Engine, "handle" | "processOutbox">,
    private readonly store: Pick<Store, "dueRuns">,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly intervalMs = 200,
  ) {}

  start(): void {
    this.stopTicker = startTicker(() => this.sweep(), this.intervalMs, this.clock);
  }

  stop(): void {
    this.stopTicker?.();
  }

  /** One pass over everything due now; concurrent calls share a pass and queue one more. */
  sweep(): Promise<void> {
    if (this.sweeping) {
      this.again = true;
      return this.sweeping.then(() => this.sweep());
    }
    this.sweeping = this.pass()
      .catch((error: unknown) => this.log.warn({ err: error }, "timer sweep failed"))
      .finally(() => {
        this.sweeping = undefined;
      });
    const current = this.sweeping;
    if (this.again) {
      this.again = false;
    }
    return current;
  }

  private async pass(): Promise<void> {
    for (let round = 0; round < 100; round++) {
      const due = await this.store.dueRuns(this.clock.now(), 200);
      // All at once: the engine decides them in as few transactions as it can.
      const ticked = await Promise.all(due.map((runId) => this.engine.handle(runId, { kind: "tick" }, { skipLocked: true })));
      let handled = ticked.filter(Boolean).length;
      while (await this.engine.processOutbox()) handled++;
      if (handled === 0 || due.length < 200) return;
    }
  }
}
