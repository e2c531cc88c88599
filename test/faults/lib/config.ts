// Scale of the fault suite: reduced under `npm test`, full under `npm run faults`
// (which sets BATON_FAULTS_FULL=1).
export const FULL = process.env["BATON_FAULTS_FULL"] === "1";

/** `reduced` under `npm test`, `full` under `npm run faults`; BATON_FAULTS_SCALE multiplies the full figure (e.g. 0.1). */
export function scale(reduced: number, full: number): number {
  if (!FULL) return reduced;
  const factor = Number(process.env["BATON_FAULTS_SCALE"] ?? 1);
  return Math.max(reduced, Math.round(full * (Number.isFinite(factor) && factor > 0 ? factor : 1)));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A seeded PRNG (mulberry32), so a failing schedule of faults can be replayed with BATON_FAULTS_SEED. */
export function rng(seed = Number(process.env["BATON_FAULTS_SEED"] ?? Date.now() % 2 ** 31)): {
  next: () => number;
  int: (lo: number, hi: number) => number;
  seed: number;
} {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)), seed };
}

/** Polls `fn` until it returns true or `timeoutMs` passes; returns whether it did. */
export async function waitUntil(fn: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 100): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await fn()) return true;
    if (Date.now() > deadline) return false;
    await sleep(everyMs);
  }
}

export function percentile(values: number[], p: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}
