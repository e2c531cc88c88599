// Compiled forms of the strings definitions repeat on every decision (paths,
// templates, jsonpath-plus's split paths and filters), kept per string, the
// least recently used out first. Bounded by bytes, not only by count: a
// compiled form's size follows its text's, so each entry is charged for its
// text, and a few huge expressions hold no more memory than many small ones.
import type { LRUCache } from "lru-cache";
import { byteCache } from "../byte-caches.js";

export { cacheSizes } from "../byte-caches.js";

/** The bytes each cache may hold, as charged by compiledSize. */
export const CACHE_BYTES = 16 * 1024 * 1024;
/** Entries each cache may hold, whatever their size. */
export const CACHE_ENTRIES = 10_000;

/** What an entry is charged: a fixed overhead and its text's UTF-16 bytes, four times over for the compiled form. */
export function compiledSize(text: string): number {
  return 256 + text.length * 8;
}

/** A cache of compiled forms by their text, bounded in bytes and entries; `name` lists it in cacheSizes(). */
export function compiledCache<V extends object>(name: string, maxBytes = CACHE_BYTES, maxEntries = CACHE_ENTRIES): LRUCache<string, V> {
  return byteCache<string, V>(name, { maxBytes, maxEntries, sizeOf: (_value, key) => compiledSize(key) });
}

export function memoize<V extends object>(name: string, compute: (text: string) => V): (text: string) => V {
  const cache = compiledCache<V>(name);
  return (text) => {
    let value = cache.get(text);
    if (value === undefined) {
      value = compute(text);
      cache.set(text, value);
    }
    return value;
  };
}
