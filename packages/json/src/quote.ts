// User data in an error message or a stored reason (a value, a name, a path,
// an expression, a script's or jq's error text, an HTTP response) is
// shortened here, in one way everywhere, so that no refusal or reason carries
// the megabytes a caller sent: a message is read by a person, and a gRPC
// status travels in a header.
import { stringifyJson } from "./codec.js";

/** The most characters of one value quoted in a message. */
export const QUOTE_CHARS = 200;

/** The most characters of another engine's error text quoted in a message (ajv's, RE2's, a script's, jq's): it may quote the user's data itself. */
export const NOTE_CHARS = 1_000;

/** The most characters of a whole message or reason, where it leaves the server or is stored. */
export const MESSAGE_CHARS = 4_000;

/** `text` cut to `max` characters and followed by "… (K more)" when it was longer. */
export function shortened(text: string, max = QUOTE_CHARS): string {
  if (text.length <= max) return text;
  // Not half a surrogate pair.
  const end = isHighSurrogate(text.charCodeAt(max - 1)) ? max - 1 : max;
  return `${text.slice(0, end)}… (${text.length - end} more)`;
}

/** A value as JSON (a string in double quotes), shortened to `max` characters. */
export function quoted(value: unknown, max = QUOTE_CHARS): string {
  if (typeof value === "string") {
    if (value.length <= max) return JSON.stringify(value);
    const end = isHighSurrogate(value.charCodeAt(max - 1)) ? max - 1 : max;
    return `${JSON.stringify(value.slice(0, end))}… (${value.length - end} more)`;
  }
  let text: string;
  try {
    text = stringifyJson(value) || String(value);
  } catch {
    text = String(value);
  }
  return shortened(text, max);
}

/**
 * A whole message or reason cut to `max` characters by its middle: its start
 * and its end stay, with "… (K more) …" between. A chained reason (a
 * sub-workflow's "failure reason: …" of each level) ends with its cause.
 */
export function abridged(text: string, max = MESSAGE_CHARS): string {
  if (text.length <= max) return text;
  let head = Math.floor(max / 2);
  let tail = text.length - (max - head);
  // Not half a surrogate pair on either side of the cut.
  if (isHighSurrogate(text.charCodeAt(head - 1))) head--;
  if (isHighSurrogate(text.charCodeAt(tail - 1))) tail--;
  return `${text.slice(0, head)} … (${tail - head} more) … ${text.slice(tail)}`;
}

function isHighSurrogate(code: number): boolean {
  return code >= 0xd800 && code <= 0xdbff;
}
