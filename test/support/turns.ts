// Turns of the event loop, for tests that show work on the serving thread is
// split across them.

/** Counts the turns of the event loop from now on, by a chain of setImmediate, until stopped. */
export function countTurns(): { readonly now: number; stop(): void } {
  let now = 0;
  let counting = true;
  const tick = () => {
    now++;
    if (counting) setImmediate(tick);
  };
  setImmediate(tick);
  return {
    get now() {
      return now;
    },
    stop: () => (counting = false),
  };
}
