// Long work done in slices that give the event loop back between them, so
// one large reply (a run of thousands of tasks) does not hold a server's
// other calls, its health answers among them, for the whole of it.

/** How long a slice may hold the event loop before it yields, in ms. */
export const SLICE_MS = 5;

/** The clock of one piece of work: `due()` once its slice has run SLICE_MS; then `yield()`. */
export class Slices {
  private since = performance.now();

  due(): boolean {
    return performance.now() - this.since >= SLICE_MS;
  }

  /** Lets pending I/O and timers run, then starts a new slice. */
  async yield(): Promise<void> {
    await new Promise<void>((resolve) => setImmediate(resolve));
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
