// Resolves `${...}` in input/output parameter templates (Conductor's
// ParametersUtils.replace). A string that is exactly one expression keeps the
// value's JSON type; expressions inside text are interpolated as strings.
import { toJson, type Json } from "./json.js";
import { compilePath } from "./path.js";
import { mayHoldExpression, parseTemplate, type Part } from "./template.js";

export interface ResolveOptions {
  /** The id of the task being scheduled, for `${CPEWF_TASK_ID}`. */
  taskId?: string;
  /** Read paths with filters (in a queries pool thread); without, such a path throws FilterDeferred. */
  runFilters?: boolean;
  /** Called with the path of every expression that found nothing (the value is then null). */
  onMissing?: (expression: string) => void;
}

/**
 * A path with a filter met where filters do not run (the thread that serves
 * calls): the caller has the whole template resolved in the queries pool
 * instead (sandbox/queries.ts), and goes on with its answer.
 */
export class FilterDeferred extends Error {
  override readonly name = "FilterDeferred";
  constructor(readonly path: string) {
    super(`the path ${path} has a filter: it is read in the queries pool`);
  }
}

/** Resolves every `${...}` in a template against `context`; the result shares nothing with either. */
export function resolveParameters(template: Record<string, unknown>, context: Record<string, unknown>, options: ResolveOptions = {}): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const key of Object.keys(template)) setKey(out, key, resolveValue(template[key], context, options));
  return out;
}

/** Adds a key as an own data property: a template key "__proto__" is data, never the object's prototype. */
function setKey(out: Record<string, Json>, key: string, value: Json): void {
  if (key === "__proto__") Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
  else out[key] = value;
}

/** Resolves one template value: strings are resolved, objects and arrays recursively, other leaves copied. */
export function resolveValue(value: unknown, context: Record<string, unknown>, options: ResolveOptions = {}): Json {
  if (typeof value === "string") return mayHoldExpression(value) ? resolveString(value, context, options) : value;
  if (Array.isArray(value)) return value.map((item) => resolveValue(item, context, options));
  if (value !== null && typeof value === "object" && !isJsonCapable(value)) {
    const out: Record<string, Json> = {};
    for (const key of Object.keys(value)) {
      const item = (value as Record<string, unknown>)[key];
      if (item !== undefined) setKey(out, key, resolveValue(item, context, options));
    }
    return out;
  }
  return toJson(value);
}

function isJsonCapable(value: object): boolean {
  return typeof (value as { toJSON?: unknown }).toJSON === "function";
}

/** What one expression stands for: a value, or text left as written (an unset `${CPEWF_TASK_ID}`). */
type Resolved = { readonly value: unknown } | { readonly literal: string };

function resolveString(text: string, context: Record<string, unknown>, options: ResolveOptions): Json {
  const parts = parseTemplate(text);
  const [first] = parts;
  if (parts.length === 1 && first!.kind === "expr") {
    const got = evaluate(first!, context, options);
    return "literal" in got ? got.literal : toJson(got.value);
  }
  return interpolate(parts, context, options);
}

function interpolate(parts: readonly Part[], context: Record<string, unknown>, options: ResolveOptions): string {
  let out = "";
  for (const part of parts) {
    if (part.kind === "text") out += part.text;
    else {
      const got = evaluate(part, context, options);
      out += "literal" in got ? got.literal : asText(got.value);
    }
  }
  return out;
}

function evaluate(part: Part & { kind: "expr" }, context: Record<string, unknown>, options: ResolveOptions): Resolved {
  const path = part.nested ? interpolate(part.nested, context, options) : part.source;
  if (path.trim() === "") return { value: "" }; // `${}` is the empty string in Conductor
  if (path === "CPEWF_TASK_ID") return options.taskId !== undefined ? { value: options.taskId } : { literal: `\${${path}}` };
  const compiled = compilePath(path);
  if (compiled.filter && !options.runFilters) throw new FilterDeferred(path);
  const got = compiled.read(context);
  if (got.found) return got;
  options.onMissing?.(path);
  return { value: null };
}

// Embedded values: strings as they are, null as "null" (Conductor's
// Objects.toString), objects and arrays as JSON text (Conductor would print
// Java's Map.toString, `{a=1}`, which nothing can read back).
function asText(value: unknown): string {
  if (typeof value === "string") return value;
  const json = toJson(value);
  return json !== null && typeof json === "object" ? JSON.stringify(json) : String(json);
}
