// Time is an input to the engine, never read behind its back: tests hand the
// server a ManualClock and move it, so a 3-day WAIT passes in a millisecond.

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `listener` whenever time jumps (only a manual clock does). */
  onAdvance(listener: () => void): () => void;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  onAdvance: () => () => {},
};

export class ManualClock implements Clock {
  private listeners = new Set<() => void>();
  constructor(private current = Date.UTC(2030, 0, 1)) {}
  now(): number {
    return this.current;
  }
  advance(ms: number): void {
    this.current += ms;
    for (const listener of this.listeners) listener();
  }
  set(ms: number): void {
    this.current = ms;
    for (const listener of this.listeners) listener();
  }
  onAdvance(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** Calls `run` every `intervalMs` of real time and whenever `clock` jumps; returns the function that stops both. */
export function everyTick(clock: Pick<Clock, "onAdvance">, intervalMs: number, run: () => void): () => void {
  const timer = setInterval(run, intervalMs);
  timer.unref();
  const unsubscribe = clock.onAdvance(run);
  return () => {
    clearInterval(timer);
    unsubscribe();
  };
}
