// A run's input checked against its flow's declared inputs before it starts:
// the definition's `inputSchema` (Orkes Conductor's field: a SchemaDef whose
// `data` is a JSON Schema), enforced unless `enforceSchema` is false. A start
// missing a required input is refused with the missing names, instead of
// failing later in a worker. Definitions without an inputSchema start as before.
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import type { RegExpEngine } from "ajv/dist/types/index.js";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { RE2JS } from "re2js";
import type { WorkflowDef } from "@baton/sdk";
import type { JsonObject } from "../decider/model.js";
import { byteCache } from "../byte-caches.js";
import { invalid } from "./errors.js";
import { withLinearUniqueItems } from "./unique-items.js";

// `pattern` and `patternProperties` are user text run on every start on the
// serving thread: they run on RE2 (linear time, no backtracking), as JSONPath
// filters do, not on JavaScript's engine, where `^(a+)+$` takes exponential time.
// A pattern RE2 refuses makes the schema invalid, said when it is published.
const re2: RegExpEngine = Object.assign(
  (pattern: string) => {
    let re: RE2JS;
    try {
      re = RE2JS.compile(pattern);
    } catch (error) {
      throw new Error(
        `the pattern ${JSON.stringify(pattern)} is not supported (${(error as Error).message}): input schema patterns match on RE2: no lookaround, no backreferences, repetition counts up to 1000`,
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

function validatorFor(schema: JsonObject): ValidateFunction | string {
  const key = JSON.stringify(schema);
  let found = compiled.get(key);
  if (found === undefined) {
    const ajv = String(schema["$schema"] ?? "").includes("2020-12") ? draft2020 : draft7;
    try {
      found = { validate: ajv.compile(schema), schema, ajv };
    } catch (error) {
      found = { invalid: (error as Error).message };
    }
    compiled.set(key, found);
  }
  return "invalid" in found ? found.invalid : found.validate;
}

function describe(errors: ErrorObject[]): string {
  const missing = errors.filter((e) => e.keyword === "required" && e.instancePath === "").map((e) => String(e.params["missingProperty"]));
  const other = errors
    .filter((e) => !(e.keyword === "required" && e.instancePath === ""))
    .map((e) => `input${e.instancePath.replaceAll("/", ".")} ${e.message ?? "is not valid"}`);
  return [missing.length ? `missing required input${missing.length > 1 ? "s" : ""}: ${missing.join(", ")}` : "", ...other].filter(Boolean).join("; ");
}

/** The JSON Schema a definition enforces on its runs' input, if any. */
function enforcedSchema(def: WorkflowDef): JsonObject | undefined {
  const schemaDef = def.inputSchema as { type?: unknown; data?: unknown } | undefined;
  if (!schemaDef || def.enforceSchema === false) return undefined;
  if (schemaDef.type !== undefined && schemaDef.type !== "JSON") return undefined;
  if (typeof schemaDef.data !== "object" || schemaDef.data === null || Array.isArray(schemaDef.data)) return undefined;
  return schemaDef.data as JsonObject;
}

/** Why the definition's enforced inputSchema cannot be used (for publish time), if it cannot. */
export function inputSchemaProblem(def: WorkflowDef): string | undefined {
  const schema = enforcedSchema(def);
  const validate = schema && validatorFor(schema);
  return typeof validate === "string" ? `the inputSchema is not a valid JSON Schema: ${validate}` : undefined;
}

/** Refuses (INVALID_ARGUMENT) an input that does not satisfy the definition's enforced inputSchema. */
export function checkRunInput(def: WorkflowDef, input: JsonObject): void {
  const schema = enforcedSchema(def);
  if (!schema) return;
  const validate = validatorFor(schema);
  const label = `${def.name} version ${def.version ?? 1}`;
  if (typeof validate === "string")
    throw invalid(`${label} has an inputSchema that is not a valid JSON Schema (${validate}): fix the definition and register it again`);
  // Conductor merges inputTemplate's defaults under the input: a default satisfies a required input.
  const template = (def as { inputTemplate?: unknown }).inputTemplate;
  const merged = template && typeof template === "object" ? { ...(template as JsonObject), ...input } : input;
  if (validate(merged)) return;
  throw invalid(`${label} refused the input: ${describe(validate.errors ?? [])} (its inputSchema; enforceSchema: false in the definition turns the check off)`);
}
