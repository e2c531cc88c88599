// The JSON text a payload object was parsed from (a worker's output, a run's input), known
// by the object: its size is that text's length, and the batch that writes it
// hands PostgreSQL that text (store/rows-json.ts) rather than writing the
// object out again, which at megabytes held the serving thread for tens of
// ms each time. Payloads are replaced, never changed in place (see the
// decider), so the text stays the object's. A large text is dropped once its
// batch is written: a later write writes the object out as before, and a run
// kept in memory does not hold its outputs twice.

/** A payload's text is kept from this length on: below it, writing the object out costs little. */
export const PAYLOAD_TEXT_CHARS = 64 * 1024;

const sizes = new WeakMap<object, number>();
const texts = new WeakMap<object, string>();

/** Notes the text `value` was parsed from (valid JSON, checked as the payload was). */
export function notePayloadText(value: object, text: string): void {
  sizes.set(value, text === "" ? 2 : Buffer.byteLength(text));
  if (text.length >= PAYLOAD_TEXT_CHARS) texts.set(value, text);
}

/** `copy`, a shallow copy of `original` with its keys in their order: the same JSON text, so the same notes. */
export function sameText<T extends object>(copy: T, original: object): T {
  const size = sizes.get(original);
  if (size !== undefined) sizes.set(copy, size);
  const text = texts.get(original);
  if (text !== undefined) texts.set(copy, text);
  return copy;
}

/** The JSON size of a payload known from its text, if it came as one. */
export function knownJsonBytes(value: unknown): number | undefined {
  return typeof value === "object" && value !== null ? sizes.get(value) : undefined;
}

/** The text of a large payload not yet written, if it came as one. */
export function payloadText(value: unknown): string | undefined {
  return typeof value === "object" && value !== null ? texts.get(value) : undefined;
}

/** Drops the texts of payloads written. */
export function forgetTexts(written: Iterable<object>): void {
  for (const value of written) texts.delete(value);
}
