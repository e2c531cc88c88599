// Counts the native JSON parses a server in this process makes, for tests that
// show a text was not parsed (again).

/** The native parses of texts of `min` or more characters while `fn` runs. */
export async function largeParses<T>(min: number, fn: () => Promise<T>): Promise<{ result: T; parses: number }> {
  const original = JSON.parse;
  let parses = 0;
  JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
    if (typeof text === "string" && text.length >= min) parses++;
    return original(text, reviver);
  }) as typeof JSON.parse;
  try {
    return { result: await fn(), parses };
  } finally {
    JSON.parse = original;
  }
}
