// WAIT's `duration` ("1h 30m", "2 days", "10s") and `until` ("2030-01-01 10:00", ISO 8601).
import { quoted } from "@baton/json";
import { readDuration } from "@baton/sdk";

/** Milliseconds in a duration such as "1h 30m" or "2 days". Throws on anything else. */
export function parseDuration(text: string): number {
  const reading = readDuration(text);
  if ("unreadable" in reading) throw new Error(`invalid WAIT duration ${quoted(text)}`);
  if ("unknownUnit" in reading) throw new Error(`invalid unit ${quoted(reading.unknownUnit)} in WAIT duration ${quoted(text)}`);
  return reading.ms;
}

/** Epoch milliseconds of a WAIT `until` time ("yyyy-MM-dd HH:mm[:ss] [zone]" or ISO 8601; UTC when no zone). */
export function parseUntil(text: string): number {
  const trimmed = text.trim();
  const m = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2}(?::\d{2})?))?\s*(Z|[+-]\d{2}:?\d{2}|UTC|GMT)?$/.exec(trimmed);
  let ms: number;
  if (m) {
    const zone = !m[3] || m[3] === "UTC" || m[3] === "GMT" ? "Z" : m[3];
    ms = Date.parse(`${m[1]}T${m[2] ?? "00:00"}${m[2] && m[2].length === 5 ? ":00" : ""}${zone}`);
  } else ms = Date.parse(trimmed);
  if (Number.isNaN(ms)) throw new Error(`invalid WAIT until ${quoted(text)}`);
  return ms;
}
