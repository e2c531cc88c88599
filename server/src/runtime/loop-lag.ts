// How late this process's event loop runs: a timer that should fire every
// few milliseconds measures how much later it actually fires. A server whose
// loop lags is already behind on work it has taken; taking more only makes
// requests wait in buffers (and memory grow), so new starts are shed instead.
import { performance } from "node:perf_hooks";

export class LoopLag {
  private timer: NodeJS.Timeout | undefined;
  private last = performance.now();
  /** A recent lag, ms: the latest measurement, or an older larger one decaying. */
  lagMs = 0;

  constructor(private readonly everyMs = 20) {}

  start(): this {
    this.last = performance.now();
    this.timer = setInterval(() => {
      const now = performance.now();
      const lag = Math.max(0, now - this.last - this.everyMs);
      this.last = now;
      this.lagMs = Math.max(lag, this.lagMs * 0.7);
    }, this.everyMs);
    this.timer.unref();
    return this;
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
