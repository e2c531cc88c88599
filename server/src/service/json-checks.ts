// The checks every JSON payload and definition passes before it is used: its
// size, its depth, how many key names its objects use, that it parses, and
// that it holds no NUL character. Plain functions throwing PayloadRefusal, so
// that the queries pool's threads read a definition exactly as the serving
// thread reads a payload (service/errors.ts turns a refusal into
// INVALID_ARGUMENT).
import { nestsDeeperThan, parseJson, usesMoreKeyNamesThan } from "@baton/json";

/** What is wrong with a payload: the caller's input, refused with this message. */
export class PayloadRefusal extends Error {
  override readonly name = "PayloadRefusal";
}

/** How deep JSON payloads and definitions may nest. */
export const MAX_JSON_DEPTH = 100;
/** A request body (REST, the console's Connect JSON) wraps its payloads in a few levels of its own. */
export const MAX_BODY_DEPTH = MAX_JSON_DEPTH + 10;
/** The refusal of a body nested deeper than MAX_BODY_DEPTH. */
export const BODY_TOO_DEEP = `the request body nests deeper than ${MAX_BODY_DEPTH} levels (payloads and definitions may nest ${MAX_JSON_DEPTH})`;
/**
 * How many distinct key names the objects of one payload, definition or
 * request body may use: V8 makes a hidden class for each new name, so a
 * worker's 2 MiB output of objects under fresh names held the serving thread
 * 1-3 s in its parse, against tens of milliseconds for the same bytes under
 * repeated names.
 */
export const MAX_JSON_KEY_NAMES = 10_000;
const KEYED_BY_NAME = 'each new name costs the server\'s parser: key such items in a list (e.g. [{"id": …}]) rather than by name';
/** The refusal of a body whose objects use more than MAX_JSON_KEY_NAMES names. */
export const BODY_TOO_MANY_NAMES = `the request body's objects use more than ${MAX_JSON_KEY_NAMES} distinct key names (${KEYED_BY_NAME})`;

/**
 * Refuses JSON nested deeper than MAX_JSON_DEPTH or holding a NUL character
 * (PostgreSQL's jsonb cannot). Iterative: no stack to overflow. `text`: the
 * value's JSON text, when there is one: JSON can write a NUL only as the
 * escape \u0000, so a text without one holds none, and then only containers
 * are walked (at 2 MiB a walk of every value took as long as the parse).
 */
export function checkJson(field: string, value: unknown, text?: string): void {
  const nulPossible = text === undefined || text.includes("\\u0000");
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (typeof v === "string") {
      if (v.includes("\u0000")) throw new PayloadRefusal(`${field} holds a NUL character, which cannot be stored`);
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    if (depth > MAX_JSON_DEPTH) throw tooDeep(field);
    const keys = Object.keys(v);
    for (const key of keys) {
      if (nulPossible && key.includes("\u0000")) throw new PayloadRefusal(`${field} holds a NUL character, which cannot be stored`);
      const item = (v as Record<string, unknown>)[key];
      if ((item !== null && typeof item === "object") || (nulPossible && typeof item === "string")) {
        values.push(item);
        depths.push(depth + 1);
      }
    }
  }
}

export function checkSize(field: string, text: string, limitBytes: number): void {
  const size = Buffer.byteLength(text);
  if (size > limitBytes) throw new PayloadRefusal(`${field} is ${size} bytes; the limit is ${limitBytes} bytes`);
}

export function tooDeep(field: string): PayloadRefusal {
  return new PayloadRefusal(`${field} nests deeper than ${MAX_JSON_DEPTH} levels`);
}

export function tooManyNames(field: string): PayloadRefusal {
  return new PayloadRefusal(`${field}'s objects use more than ${MAX_JSON_KEY_NAMES} distinct key names (${KEYED_BY_NAME})`);
}

/**
 * The field's value, measured and parsed, of the kind asked for; not yet checked. `scan`: its depth is read from the
 * text first (parsing nested lists costs about a microsecond a level: a 2 MiB output of them held the serving thread
 * 1-2.5 s only to be refused).
 */
export function parsedPayload(field: string, text: string, limitBytes: number, kind: "object" | "any", scan = true): Record<string, unknown> {
  if (text === "") return {};
  checkSize(field, text, limitBytes);
  if (scan && nestsDeeperThan(text, MAX_JSON_DEPTH)) throw tooDeep(field);
  if (scan && usesMoreKeyNamesThan(text, MAX_JSON_KEY_NAMES)) throw tooManyNames(field);
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (error) {
    throw new PayloadRefusal(`${field} is not valid JSON: ${(error as Error).message}`);
  }
  if (kind === "object" && (value === null || typeof value !== "object" || Array.isArray(value))) {
    throw new PayloadRefusal(`${field} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** The payload `text` holds, of the kind asked for, measured, parsed and checked. */
export function readPayload(field: string, text: string, limitBytes: number, kind: "object" | "any" = "object"): Record<string, unknown> {
  const value = parsedPayload(field, text, limitBytes, kind);
  checkJson(field, value, text);
  return value;
}
