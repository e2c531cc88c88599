// JSON values, and the copy that turns whatever the context holds (live views
// with getters, Dates, undefined) into plain JSON the caller may keep and mutate.
import type { Json } from "@baton/json";

export type { Json };

/** A deep copy as JSON: what JSON.stringify then JSON.parse would give, without the text. */
export function toJson(value: unknown): Json {
  switch (typeof value) {
    case "string":
    case "boolean":
      return value;
    case "number":
      return Number.isFinite(value) ? value : null;
    case "bigint":
      // Integers beyond 2^53 travel as BigInt (see @baton/protocol's parseJson) and stay exact.
      return value as unknown as Json;
    case "object":
      break;
    default:
      return null; // undefined, functions, symbols
  }
  if (value === null) return null;
  if (Array.isArray(value)) return value.map(toJson);
  const withToJson = value as { toJSON?: () => unknown };
  if (typeof withToJson.toJSON === "function") return toJson(withToJson.toJSON());
  const out: { [k: string]: Json } = {};
  for (const key of Object.keys(value)) {
    const item = (value as Record<string, unknown>)[key];
    if (item === undefined || typeof item === "function" || typeof item === "symbol") continue;
    out[key] = toJson(item);
  }
  return out;
}
