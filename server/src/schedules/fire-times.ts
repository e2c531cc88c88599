// A schedule's FireTimes, kept while its timing stays the same: parsing a cron
// expression on every sweep would cost more than the sweep's query. Keyed by
// the timing fields alone: the start request (its input up to the definition
// limit) is neither serialized for the key nor held by the cache.
import { FireTimes, type WorkflowSchedule } from "@baton/sdk";
import { byteCache } from "../byte-caches.js";

// Bounded by bytes and entries (byte-caches.ts): an entry is charged for its key.
const cache = byteCache<string, FireTimes>("schedule fire times", {
  maxBytes: 16 * 1024 * 1024,
  maxEntries: 10_000,
  sizeOf: (_times, key) => 1024 + 2 * key.length,
});

export function fireTimesOf(schedule: WorkflowSchedule): FireTimes {
  const { name, cronExpression, intervalSeconds, zoneId, scheduleStartTime, scheduleEndTime, jitterSeconds } = schedule;
  const key = JSON.stringify([name, cronExpression, intervalSeconds, zoneId, scheduleStartTime, scheduleEndTime, jitterSeconds]);
  let times = cache.get(key);
  if (!times) {
    times = new FireTimes(schedule);
    cache.set(key, times);
  }
  return times;
}

/** Computing fire times gives the serving thread a turn after this long. */
const SLICE_MS = 5;

/**
 * Up to `count` fire times strictly after `afterMs` and before `beforeMs`, computed in slices between which calls
 * are served: croner takes up to a millisecond per fire time (more for a rare date), and a backfill asks for 10,000.
 */
export async function fireTimesBetween(times: FireTimes, afterMs: number, beforeMs: number, count: number): Promise<number[]> {
  const out: number[] = [];
  let sliceStart = performance.now();
  for (let t = times.after(afterMs); t !== undefined && t < beforeMs && out.length < count; t = times.after(t)) {
    out.push(t);
    if (performance.now() - sliceStart > SLICE_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      sliceStart = performance.now();
    }
  }
  return out;
}
