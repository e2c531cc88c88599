// The loop every background worker of the server runs (timers, schedules,
// event handlers, retention): a pass now, the next one an interval after it
// ended (never two at once from here), and one at once whenever a test moves
// the clock.
import type { Clock } from "./clock.js";

/** Starts the loop; the function returned stops it. */
export function startTicker(pass: () => Promise<unknown>, intervalMs: number, clock: Pick<Clock, "onAdvance">): () => void {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  const loop = () => {
    if (stopped) return;
    void pass().finally(() => {
      if (stopped) return;
      timer = setTimeout(loop, intervalMs);
      timer.unref();
    });
  };
  loop();
  const unsubscribe = clock.onAdvance(() => void pass());
  return () => {
    stopped = true;
    unsubscribe();
    if (timer) clearTimeout(timer);
  };
}
