// How an event handler reads its event: the condition (a sandboxed script or a
// payload field), `expandInlineJSON`, and `${...}` substitution from the payload.
import { nestsDeeperThan, usesMoreKeyNamesThan } from "@baton/json";
import type { Json } from "../expressions/json.js";
import { FilterDeferred, compilePath, resolveValue } from "../expressions/index.js";
import { scriptTruth } from "../sandbox/index.js";
import { MAX_JSON_DEPTH, MAX_JSON_KEY_NAMES } from "../service/json-checks.js";

export type EvaluateScript = (source: string, bindings: Json) => Promise<Json>;
/** Resolves a template whose paths hold JSONPath filters against `context`, in the queries pool (never on the serving thread). */
export type ResolveWithFilters = (template: Json, context: Json) => Promise<Json>;

/**
 * Whether the payload passes a handler's condition. Empty passes. `javascript`
 * (the default, and `graaljs`): the condition is a script with the payload as
 * `$`, true when it yields true or a number above 0 (Conductor's
 * ScriptEvaluator). `value-param`: the condition is a path into the payload,
 * true when the value there is true, a number above 0 or the text "true".
 * A script that fails counts as false; the error is thrown for the caller to log.
 * A path with a filter is read in the queries pool (missing reads as null there, false either way).
 */
export async function conditionHolds(
  condition: string | undefined,
  evaluatorType: string | undefined,
  payload: Json,
  evaluate: EvaluateScript,
  resolveWithFilters: ResolveWithFilters,
): Promise<boolean> {
  if (condition === undefined || condition.trim() === "") return true;
  if (evaluatorType === "value-param") {
    const path = compilePath(condition.trim());
    let value: unknown;
    if (path.filter) value = await resolveWithFilters(`\${${condition.trim()}}`, payload);
    else {
      const got = path.read(payload);
      if (!got.found) return false;
      value = got.value;
    }
    return typeof value === "string" ? value.toLowerCase() === "true" : scriptTruth(value as Json);
  }
  return scriptTruth(await evaluate(condition, payload));
}

/**
 * Conductor's JsonUtils.expand: string values holding a JSON object or array
 * become that object or array, at any depth. Text that does not parse stays text,
 * and so does text nested deeper or with more key names than a payload may
 * have: the payload's own checks never saw what its strings hold, and such a
 * text costs its parse a second per megabyte or more.
 */
export function expandInlineJson(value: Json): Json {
  if (typeof value === "string") {
    const text = value.trim();
    const looksLikeJson = (text.startsWith("{") && text.endsWith("}")) || (text.startsWith("[") && text.endsWith("]"));
    if (looksLikeJson && !nestsDeeperThan(text, MAX_JSON_DEPTH) && !usesMoreKeyNamesThan(text, MAX_JSON_KEY_NAMES)) {
      try {
        return expandInlineJson(JSON.parse(text) as Json);
      } catch {
        return value;
      }
    }
    return value;
  }
  if (Array.isArray(value)) return value.map(expandInlineJson);
  if (value !== null && typeof value === "object") {
    const out: Record<string, Json> = {};
    for (const [key, item] of Object.entries(value)) out[key] = expandInlineJson(item as Json);
    return out;
  }
  return value;
}

// `${$.currentTimeMillis()}` (or `${currentTimeMillis()}`): not JsonPath, but
// what handlers write for "now". Baton gives the server clock's milliseconds.
const NOW = /(?<!\$)\$\{\s*(?:\$\.)?currentTimeMillis\(\)\s*\}/g;
const ONLY_NOW = /^\$\{\s*(?:\$\.)?currentTimeMillis\(\)\s*\}$/;

/**
 * Resolves every `${...}` in `template` against the payload (JsonPath, a
 * leading `$.` optional; a string that is one expression keeps the value's
 * type; a path that finds nothing gives null), with the rules of workflow
 * parameters, plus `${$.currentTimeMillis()}` = `now`. A template whose paths
 * hold filters is resolved in the queries pool.
 */
export async function substitute(template: unknown, payload: Json, now: number, resolveWithFilters: ResolveWithFilters): Promise<Json> {
  const context = (payload !== null && typeof payload === "object" && !Array.isArray(payload) ? payload : { $: payload }) as Record<string, Json>;
  const timed = withNow(template, now);
  try {
    return resolveValue(timed, context);
  } catch (error) {
    if (!(error instanceof FilterDeferred)) throw error;
    return resolveWithFilters(timed as Json, context);
  }
}

function withNow(value: unknown, now: number): unknown {
  if (typeof value === "string") {
    if (!value.includes("currentTimeMillis")) return value;
    if (ONLY_NOW.test(value)) return now;
    return value.replace(NOW, String(now));
  }
  if (Array.isArray(value)) return value.map((v) => withNow(v, now));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) out[key] = withNow(item, now);
    return out;
  }
  return value;
}
