// The server's in-memory caches (compiled expressions, definitions, graphs,
// schedules' fire times) are bounded by bytes as well as entries: what a
// cache keeps is sized by what callers send (a definition may be 4 MiB), so a
// count alone lets a few large entries take the memory of many small ones.
// Least recently used out first (lru-cache); each entry is charged an
// estimate made once, when it is stored.
import { stringifyJson } from "@baton/json";
import { LRUCache } from "lru-cache";

export interface ByteCacheOptions<K, V> {
  maxBytes: number;
  maxEntries: number;
  /** What an entry is charged, in bytes (an estimate of what it holds). */
  sizeOf: (value: V, key: K) => number;
  /** Called with an entry that leaves (evicted, replaced or deleted): to free what others keep for it. */
  onLeave?: (value: V, key: K) => void;
}

const caches = new Map<string, LRUCache<NonNullable<unknown>, NonNullable<unknown>>>();

/** A least-recently-used cache bounded by bytes and entries; `name` lists it in cacheSizes(). */
export function byteCache<K extends NonNullable<unknown>, V extends NonNullable<unknown>>(name: string, options: ByteCacheOptions<K, V>): LRUCache<K, V> {
  const cache = new LRUCache<K, V>({
    max: options.maxEntries,
    maxSize: options.maxBytes,
    // lru-cache refuses a size under 1; an entry over the whole budget is simply not kept.
    sizeCalculation: (value, key) => Math.max(1, Math.ceil(options.sizeOf(value, key))),
    ...(options.onLeave ? { dispose: options.onLeave } : {}),
  });
  caches.set(name, cache as unknown as LRUCache<NonNullable<unknown>, NonNullable<unknown>>);
  return cache;
}

/** What a parsed JSON value is charged: its text's length four times over (objects take more memory than their text), plus a fixed overhead. */
export function jsonCharge(value: unknown): number {
  return 256 + 4 * stringifyJson(value).length;
}

/** Each cache's entries and charged bytes (for tests and diagnostics). */
export function cacheSizes(): Record<string, { entries: number; bytes: number; maxBytes: number }> {
  const out: Record<string, { entries: number; bytes: number; maxBytes: number }> = {};
  for (const [name, cache] of caches) out[name] = { entries: cache.size, bytes: cache.calculatedSize, maxBytes: cache.maxSize };
  return out;
}
