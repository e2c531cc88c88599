// Where a JSON string ends in its text, for scans that read a text before it
// is parsed (depth.ts, key-names.ts): escapes skipped, so an escaped quote
// does not end it.

const QUOTE = 0x22;
const BACKSLASH = 0x5c;

/** The index of the quote that closes the string opening at `open` (text.length if it never closes). */
export function stringEnd(text: string, open: number): number {
  let i = open + 1;
  for (; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === BACKSLASH) i++;
    else if (c === QUOTE) break;
  }
  return i;
}
