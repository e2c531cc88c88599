// Compiled forms of the strings definitions repeat on every decision (paths,
// templates), kept per string; a full cache starts over rather than growing.
export function memoize<V>(compute: (text: string) => V, maxEntries = 10_000): (text: string) => V {
  const cache = new Map<string, V>();
  return (text) => {
    let value = cache.get(text);
    if (value === undefined) {
      value = compute(text);
      if (cache.size >= maxEntries) cache.clear();
      cache.set(text, value);
    }
    return value;
  };
}
