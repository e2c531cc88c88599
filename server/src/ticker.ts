// The loop every background worker of the server runs (timers, schedules,
// event handlers, retention): a pass now, the next one an interval after it
// ended, and one at once whenever a test moves the clock. Passes never
// overlap: a call during a pass waits for it and then runs one more (what it
// was called for may have come after the pass began).
import type { Clock } from "./clock.js";

export class Ticker {
  private current: Promise<void> | undefined;
  private stopLoop: (() => void) | undefined;
  private halted = false;

  constructor(
    private readonly pass: () => Promise<void>,
    /** Told of a failed pass (the loop goes on). */
    private readonly onError: (error: unknown) => void,
    private readonly intervalMs: number,
    private readonly clock: Pick<Clock, "onAdvance">,
  ) {}

  start(): void {
    this.stopLoop = startLoop(() => this.run(), this.intervalMs, this.clock);
  }

  /** One pass; during one, waits for it and runs one more. Never rejects. */
  async run(): Promise<void> {
    while (this.current) await this.current;
    this.current = this.pass()
      .catch((error: unknown) => {
        if (!isDatabaseShuttingDown(error)) this.onError(error);
      })
      .finally(() => {
        this.current = undefined;
      });
    return this.current;
  }

  /** Stops the loop; resolves when the pass in flight, if any, has ended. */
  async stop(): Promise<void> {
    this.halted = true;
    this.stopLoop?.();
    await this.current;
  }

  /** Whether stop was called (a long pass checks it to end early). */
  get stopped(): boolean {
    return this.halted;
  }
}

/** Starts the loop; the function returned stops it. */
function startLoop(pass: () => Promise<unknown>, intervalMs: number, clock: Pick<Clock, "onAdvance">): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    if (stopped) return;
    void pass().finally(() => {
      if (stopped) return;
      timer = setTimeout(loop, intervalMs);
      timer.unref();
    });
  };
  loop();
  const unsubscribe = clock.onAdvance(() => void pass());
  return () => {
    stopped = true;
    unsubscribe();
    if (timer) clearTimeout(timer);
  };
}

/**
 * PostgreSQL ending the connection because it is shutting down (SQLSTATE
 * 57P01): a restart, or Ctrl-C reaching an embedded cluster in the same
 * process group as the server. Not a failed pass worth a warning: the next
 * pass retries, and /readyz reports the database.
 */
function isDatabaseShuttingDown(error: unknown): boolean {
  return typeof error === "object" && error !== null && (error as { code?: unknown }).code === "57P01";
}
