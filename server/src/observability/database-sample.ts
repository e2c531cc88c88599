// The gauges' view of the database (runs in flight, queue depths), read when
// scraped; bounded in time so a dead database cannot hang a scrape.
import type { Clock } from "../clock.js";
import type { Store } from "../store/store.js";
import type { DatabaseSample } from "./metrics.js";
import { within } from "./within.js";

export async function sampleDatabase(store: Pick<Store, "runsInFlight" | "queueDepths">, clock: Clock, timeoutMs = 2000): Promise<DatabaseSample> {
  // PostgreSQL stops each count past the time the scrape waits: none goes on holding a connection after it gave up.
  const work = (async () => ({ runs: await store.runsInFlight(timeoutMs), queues: await store.queueDepths(clock.now(), timeoutMs) }))();
  work.catch(() => {});
  return within(work, timeoutMs, () => {
    throw new Error("database sample timed out");
  });
}
