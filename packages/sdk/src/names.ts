// Names and keys the server indexes (workflow and task names, event handlers'
// names and events, a run's correlation id and idempotency key) have a length
// limit: PostgreSQL refuses an index entry over about 2.7 KB, and a longer one
// failed the write that carried it, over and over where run data supplied it
// (a dynamic task's name, a started run's correlation id). 512 characters of
// up to 4 bytes each fit.
export const MAX_NAME_CHARS = 512;

/** How many characters (code points, as JSON Schema's maxLength counts) `text` has past the limit; 0 when it fits. */
export function charsOverNameLimit(text: string): number {
  if (text.length <= MAX_NAME_CHARS) return 0;
  let chars = 0;
  for (const _ of text) chars++;
  return Math.max(0, chars - MAX_NAME_CHARS);
}
