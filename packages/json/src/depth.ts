// How deep JSON text nests, read from the text before it is parsed: parsing
// megabytes of nested lists costs the parser about a microsecond a level
// (a 2 MiB payload of them held the serving thread 1-2 s only to be refused
// for its depth), a scan of its characters a few milliseconds.

import { stringEnd } from "./string-end.js";

const QUOTE = 0x22;
const OPEN_LIST = 0x5b;
const OPEN_OBJECT = 0x7b;
const CLOSE_LIST = 0x5d;
const CLOSE_OBJECT = 0x7d;

/**
 * Whether `text` nests deeper than `limit` lists and objects, brackets inside
 * strings aside. One pass, no parse: text that is not JSON is judged by its
 * brackets alone (the parse after it refuses it).
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === QUOTE) {
      i = stringEnd(text, i);
    } else if (c === OPEN_LIST || c === OPEN_OBJECT) {
      if (++depth > limit) return true;
    } else if (c === CLOSE_LIST || c === CLOSE_OBJECT) {
      depth--;
    }
  }
  return false;
}
