// Long work done in slices that give the event loop back between them, so
// one large reply (a run of thousands of tasks) does not hold a server's
// other calls, its health answers among them, for the whole of it.

/** How long a slice may hold the event loop before it yields, in ms. */
export const SLICE_MS = 5;

/**
 * Slices waiting for their turn, of every piece of work at once: one goes on
 * per turn of the event loop, the others after the I/O that came meanwhile.
 * Each resuming in a setImmediate of its own ran them all in the same turn:
 * four callers reading a run of 5,000 tasks held the loop 4 x SLICE_MS.
 */
const waiting: (() => void)[] = [];
let turnAsked = false;

function nextSlice(): void {
  const resume = waiting.shift();
  // The next one in the next turn: a setImmediate asked for while immediates run waits for the loop to go round.
  turnAsked = waiting.length > 0;
  if (turnAsked) setImmediate(nextSlice);
  resume?.();
}

/** Resolves in a turn of the event loop of its own, after the slices that waited before it. */
export function sliceTurn(): Promise<void> {
  return new Promise<void>((resolve) => {
    waiting.push(resolve);
    if (!turnAsked) {
      turnAsked = true;
      setImmediate(nextSlice);
    }
  });
}

/** The clock of one piece of work: `due()` once its slice has run SLICE_MS; then `yield()`. */
export class Slices {
  private since = performance.now();

  due(): boolean {
    return performance.now() - this.since >= SLICE_MS;
  }

  /** Lets pending I/O and timers run, and other work's slices waiting before this one, then starts a new slice. */
  async yield(): Promise<void> {
    await sliceTurn();
    this.since = performance.now();
  }
}

/** `items.map(fn)`, yielding between slices. */
export async function mapInSlices<T, U>(items: readonly T[], fn: (item: T) => U, slices = new Slices()): Promise<U[]> {
  const out = new Array<U>(items.length);
  for (let i = 0; i < items.length; i++) {
    if (slices.due()) await slices.yield();
    out[i] = fn(items[i]!);
  }
  return out;
}
