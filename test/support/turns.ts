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

/** Which JSON texts a test counts: those it parses, those it writes. */
export interface JsonTexts {
  parsed: (text: string) => boolean;
  written: (text: string) => boolean;
}

/** The texts of `min` characters or more, parsed and written. */
export const textsOfAtLeast = (min: number): JsonTexts => ({ parsed: (text) => text.length >= min, written: (text) => text.length >= min });

/**
 * This thread's parses of the JSON texts `texts` picks (the turn of each) and its writes of those it picks, while
 * `fn` ran: where a large body is read and how often it is written out again.
 */
export async function jsonDuring<T>(texts: JsonTexts, fn: () => Promise<T>): Promise<{ result: T; parsedIn: number[]; writes: number }> {
  const { parse, stringify } = JSON;
  const turns = countTurns();
  const parsedIn: number[] = [];
  let writes = 0;
  JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
    if (typeof text === "string" && texts.parsed(text)) parsedIn.push(turns.now);
    return parse(text, reviver);
  }) as typeof JSON.parse;
  JSON.stringify = ((...args: Parameters<typeof stringify>) => {
    const text = stringify(...args);
    if (typeof text === "string" && texts.written(text)) writes++;
    return text;
  }) as typeof JSON.stringify;
  try {
    return { result: await fn(), parsedIn, writes };
  } finally {
    [JSON.parse, JSON.stringify] = [parse, stringify];
    turns.stop();
  }
}
