// Fires due timers: any replica sweeps runs whose wake time has come (or whose
// running task's lease ran out) and gives each a "tick" event. A run another
// replica is busy with is skipped, not waited for. Also carries out outbox
// items a crashed process left behind.
import type { Clock } from "../clock.js";
import type { Logger } from "../logger.js";
import type { Store } from "../store/store.js";
import type { Engine } from "./engine.js";
import { Ticker } from "../ticker.js";

export class Timers {
  private readonly ticker: Ticker;

  constructor(
    private readonly engine: Pick<Engine, "handle" | "processOutbox">,
    private readonly store: Pick<Store, "dueRuns">,
    private readonly clock: Clock,
    log: Logger,
    intervalMs = 200,
  ) {
    this.ticker = new Ticker(
      () => this.pass(),
      (error) => log.warn({ err: error }, "timer sweep failed"),
      intervalMs,
      clock,
    );
  }

  start(): void {
    this.ticker.start();
  }

  stop(): void {
    void this.ticker.stop();
  }

  /** One pass over everything due now; a call during a pass waits for it and runs one more. */
  sweep(): Promise<void> {
    return this.ticker.run();
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
