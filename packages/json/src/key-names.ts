// How many distinct key names a JSON text's objects use, read from the text
// before it is parsed. V8 gives each new name an object takes a hidden class
// of its own: 2 MiB of objects under fresh names held the serving thread 1-3 s
// in JSON.parse (and as long again to clone across threads), where the same
// bytes under names repeated from object to object parse in a few tens of
// milliseconds. So the names, not the bytes, are what costs.

import { stringEnd } from "./string-end.js";

const QUOTE = 0x22;
const COLON = 0x3a;
const SPACE = 0x20;
/** The fewest characters a distinct key name adds to a text: its quotes, a colon, a value and a comma around at least one character. */
const MIN_CHARS_PER_NAME = 5;

/**
 * Whether `text`'s objects use more than `limit` distinct key names (as
 * written: a name escaped two ways counts twice). One pass, no parse: a text
 * too short to hold that many is not read at all.
 */
export function usesMoreKeyNamesThan(text: string, limit: number): boolean {
  if (text.length <= limit * MIN_CHARS_PER_NAME) return false;
  const names = new Set<string>();
  for (let i = 0; i < text.length; i++) {
    if (text.charCodeAt(i) !== QUOTE) continue;
    const start = i + 1;
    i = stringEnd(text, i);
    // A string followed by a colon is a key.
    let next = i + 1;
    while (next < text.length && text.charCodeAt(next) <= SPACE) next++;
    if (text.charCodeAt(next) === COLON) {
      names.add(text.slice(start, i));
      if (names.size > limit) return true;
    }
  }
  return false;
}
