// A schedule's FireTimes, kept while its JSON stays the same: parsing a cron
// expression on every sweep would cost more than the sweep's query.
import { FireTimes, type WorkflowSchedule } from "@baton/sdk";
import { canonicalJson } from "../runtime/engine.js";

const cache = new Map<string, FireTimes>();

export function fireTimesOf(schedule: WorkflowSchedule): FireTimes {
  const key = canonicalJson(schedule);
  let times = cache.get(key);
  if (!times) {
    times = new FireTimes(schedule);
    if (cache.size >= 10_000) cache.clear();
    cache.set(key, times);
  }
  return times;
}
