// A schedule's FireTimes, kept while its JSON stays the same: parsing a cron
// expression on every sweep would cost more than the sweep's query.
import { FireTimes, type WorkflowSchedule } from "@baton/sdk";
import { canonicalJson } from "../runtime/engine.js";
import { byteCache } from "../byte-caches.js";

// Bounded by bytes and entries (byte-caches.ts): an entry is charged for its
// key, the schedule's JSON (a schedule's start request may be large).
const cache = byteCache<string, FireTimes>("schedule fire times", {
  maxBytes: 16 * 1024 * 1024,
  maxEntries: 10_000,
  sizeOf: (_times, key) => 1024 + 2 * key.length,
});

export function fireTimesOf(schedule: WorkflowSchedule): FireTimes {
  const key = canonicalJson(schedule);
  let times = cache.get(key);
  if (!times) {
    times = new FireTimes(schedule);
    cache.set(key, times);
  }
  return times;
}
