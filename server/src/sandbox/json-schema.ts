// JSON Schemas written in definitions (a flow's inputSchema), compiled and
// checked with ajv inside a queries pool thread (queries-worker.ts), never on
// the thread that serves calls: a small schema can take exponential time to
// check (nested anyOf through $ref, with every error collected), and ajv
// cannot be interrupted, so the pool's deadline ends its thread instead.
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import type { RegExpEngine } from "ajv/dist/types/index.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { NOTE_CHARS, parseJson, quoted, shortened } from "@baton/json";
import { RE2JS } from "re2js";
import type { JsonObject } from "../decider/model.js";
import { byteCache } from "../byte-caches.js";
import { withLinearUniqueItems } from "./unique-items.js";

// `pattern` and `patternProperties` run on RE2 (linear time, no backtracking),
// as JSONPath filters do, not on JavaScript's engine, where `^(a+)+$` takes
// exponential time. A pattern RE2 refuses makes the schema invalid, said when
// it is published.
const re2: RegExpEngine = Object.assign(
  (pattern: string) => {
    let re: RE2JS;
    try {
      re = RE2JS.compile(pattern);
    } catch (error) {
      throw new Error(
        `the pattern ${quoted(pattern)} is not supported (${shortened((error as Error).message, NOTE_CHARS)}): input schema patterns match on RE2: no lookaround, no backreferences, repetition counts up to 1000`,
      );
    }
    return { test: (text: string) => re.test(text) };
  },
  { code: "re2" },
);
const options = { allErrors: true, strict: false, code: { regExp: re2 } };
const draft7 = withLinearUniqueItems(addFormats.default(new Ajv(options)));
const draft2020 = withLinearUniqueItems(addFormats.default(new Ajv2020(options)));

/**
 * Compiled schemas by their text: definitions are few, starts are many.
 * Bounded by bytes (byte-caches.ts): a schema may be megabytes, and its
 * compiled code grows with it, so each is charged for its text.
 */
type Compiled = { validate: ValidateFunction; schema: JsonObject; ajv: { removeSchema(schema: JsonObject): unknown } } | { invalid: string };
const compiled = byteCache<string, Compiled>("input schemas", {
  maxBytes: 64 * 1024 * 1024,
  maxEntries: 1000,
  sizeOf: (_compiled, key) => 1024 + 8 * key.length,
  // ajv keeps every schema it compiled (by object) until told otherwise.
  onLeave: (entry) => {
    if ("schema" in entry) entry.ajv.removeSchema(entry.schema);
  },
});

function validatorFor(schemaText: string): ValidateFunction | string {
  let found = compiled.get(schemaText);
  if (found === undefined) {
    const schema = parseJson(schemaText) as JsonObject;
    const ajv = String(schema["$schema"] ?? "").includes("2020-12") ? draft2020 : draft7;
    try {
      found = { validate: ajv.compile(schema), schema, ajv };
    } catch (error) {
      found = { invalid: shortened((error as Error).message, NOTE_CHARS) };
    }
    compiled.set(schemaText, found);
  }
  return "invalid" in found ? found.invalid : found.validate;
}

/** Why the schema (as JSON text) is not a valid JSON Schema, if it is not. */
export function schemaProblem(schemaText: string): string | undefined {
  const validate = validatorFor(schemaText);
  return typeof validate === "string" ? validate : undefined;
}

/** What is wrong with `input` under the schema (as JSON text); undefined when it passes. */
export function inputProblem(schemaText: string, input: unknown): { invalidSchema: string } | { refused: string } | undefined {
  const validate = validatorFor(schemaText);
  if (typeof validate === "string") return { invalidSchema: validate };
  return validate(input) ? undefined : { refused: describe(validate.errors ?? []) };
}

/** The most distinct problems a refusal lists: a schema of nested anyOf collects millions of errors (65 MB of text, which no call can carry). */
const MAX_PROBLEMS = 20;

function describe(errors: ErrorObject[]): string {
  const missing = new Set(errors.filter((e) => e.keyword === "required" && e.instancePath === "").map((e) => shortened(String(e.params["missingProperty"]))));
  // The input's keys and the schema's words (a pattern, a constant) are quoted by their start.
  const other = new Set(
    errors
      .filter((e) => !(e.keyword === "required" && e.instancePath === ""))
      .map(
        (e) =>
          `input${e.instancePath
            .split("/")
            .map((name) => shortened(name))
            .join(".")} ${shortened(e.message ?? "is not valid", NOTE_CHARS)}`,
      ),
  );
  const problems = [
    missing.size ? `missing required input${missing.size > 1 ? "s" : ""}: ${[...missing].slice(0, MAX_PROBLEMS).join(", ")}` : "",
    ...other,
  ].filter(Boolean);
  const more = problems.length - MAX_PROBLEMS;
  return problems.slice(0, MAX_PROBLEMS).join("; ") + (more > 0 ? `; and ${more} more` : "");
}
