// JSONPath filters that cost their whole step budget each: what a hostile
// definition reads to hold the thread that reads them (issue 14, point 2).

/** Items a heavy filter scans: 60,000 small objects (480 KB of input); a query stops at its step budget before the end. */
export const HEAVY_ITEMS = Array.from({ length: 60_000 }, (_, i) => ({ n: i % 3 }));
/** A filter over the input's `heavy` items: about 0.3 s each on an idle machine, then it reads as missing (its step budget). */
export const HEAVY_FILTER = "${workflow.input.heavy[?(@.n > 5)]}";

/** `n` heavy filters, as input parameters. */
export function heavyParameters(n: number): Record<string, string> {
  return Object.fromEntries(Array.from({ length: n }, (_, i) => [`heavy${i}`, HEAVY_FILTER]));
}
