// Structured JSON logs (pino). Secrets never go in: log ids and names, not
// payloads. Should one slip into a logged object anyway — a header, a token, a
// password, a database URL — it is censored at any depth, inside objects and
// arrays alike, by pino's log formatter hook. (pino's `redact` paths name each
// level: eight levels of wildcards cost a quarter of a millisecond per line;
// this walk costs microseconds.)
import { pino } from "pino";

export type Logger = pino.Logger;

/** Field names whose values are never written (compared case-insensitively). */
const SECRET_FIELDS = new Set(["authorization", "x-authorization", "token", "password", "secret", "keysecret", "databaseurl", "connectionstring"]);
const CENSOR = "[Redacted]";
/** Deeper than this, values are not looked into (a log object is small; this bounds a cycle's cost too). */
const MAX_DEPTH = 16;

/** `value` with every secret field censored; unchanged objects are returned as they are (no copy). */
export function redactSecrets(value: unknown, depth = 0, seen = new WeakSet<object>()): unknown {
  if (value === null || typeof value !== "object" || depth > MAX_DEPTH || seen.has(value)) return value;
  seen.add(value);
  if (Array.isArray(value)) {
    let copy: unknown[] | undefined;
    value.forEach((item, i) => {
      const clean = redactSecrets(item, depth + 1, seen);
      if (clean !== item) (copy ??= [...value])[i] = clean;
    });
    return copy ?? value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const [key, item] of Object.entries(value)) {
    const clean = SECRET_FIELDS.has(key.toLowerCase()) ? CENSOR : redactSecrets(item, depth + 1, seen);
    if (clean !== item) {
      // A copy keeps the prototype and non-enumerable fields (an Error's message and stack).
      copy ??= Object.create(Object.getPrototypeOf(value) as object | null, Object.getOwnPropertyDescriptors(value)) as Record<string, unknown>;
      copy[key] = clean;
    }
  }
  return copy ?? value;
}

export function createLogger(level = process.env["BATON_LOG_LEVEL"] ?? "info", destination?: pino.DestinationStream): Logger {
  const options: pino.LoggerOptions = {
    level,
    base: { service: "baton" },
    formatters: { log: (object) => redactSecrets(object) as Record<string, unknown> },
  };
  return destination ? pino(options, destination) : pino(options);
}
