// Random well-typed protobuf messages for any request type of the contract,
// read from the protobuf-es descriptors: every field, with hostile values
// (huge numbers, odd strings, garbage or huge JSON where JSON is expected).
import fc from "fast-check";
import { ScalarType, type DescEnum, type DescField, type DescMessage } from "@bufbuild/protobuf";
import { anyDefinition, taskDef } from "./arbitraries.js";

const hostileString = fc.oneof(
  { weight: 4, arbitrary: fc.string({ maxLength: 16 }) },
  {
    weight: 1,
    arbitrary: fc.constantFrom(
      "",
      " ",
      "\u0000",
      "'; DROP TABLE baton.runs; --",
      "../../etc/passwd",
      "%s%n",
      "${workflow.input}",
      "🙂".repeat(50),
      "a".repeat(70_000),
    ),
  },
  { weight: 1, arbitrary: fc.uuid() },
);

/** What a `*_json` field may hold: JSON of the right kind, of the wrong kind, or not JSON at all. */
function jsonText(field: string): fc.Arbitrary<string> {
  const options: fc.Arbitrary<string>[] = [
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.dictionary(fc.string({ maxLength: 5 }), fc.jsonValue({ maxDepth: 2 })).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 30 }),
    fc.constantFrom(
      "",
      "{",
      "}",
      "null",
      "[]",
      "{}",
      '{"a":',
      "NaN",
      '{"__proto__":{"x":1}}',
      '{"constructor":{"prototype":{"x":1}}}',
      "9".repeat(400),
      '{"n":123456789012345678901234567890}',
      '{"a":"\\ud800"}',
    ),
    fc.integer({ min: 10, max: 3000 }).map((d) => "[".repeat(d) + "]".repeat(d)),
    fc.integer({ min: 10, max: 3000 }).map((d) => '{"a":'.repeat(d) + "1" + "}".repeat(d)),
  ];
  if (/definition/i.test(field))
    options.push(
      anyDefinition.map((d) => JSON.stringify(d)),
      anyDefinition.map((d) => JSON.stringify(d)),
    );
  if (/task_?def/i.test(field)) options.push(taskDef.map((d) => JSON.stringify(d)));
  return fc.oneof(...options);
}

function scalar(t: ScalarType, field: DescField): fc.Arbitrary<unknown> {
  switch (t) {
    case ScalarType.STRING:
      return /json$/i.test(field.name) ? jsonText(field.name) : hostileString;
    case ScalarType.BOOL:
      return fc.boolean();
    case ScalarType.INT32:
    case ScalarType.SINT32:
    case ScalarType.SFIXED32:
      return fc.oneof(fc.integer({ min: -3, max: 100 }), fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }));
    case ScalarType.UINT32:
    case ScalarType.FIXED32:
      return fc.oneof(fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 2 ** 32 - 1 }));
    case ScalarType.INT64:
    case ScalarType.SINT64:
    case ScalarType.SFIXED64:
      return fc.oneof(fc.bigInt({ min: -3n, max: 5000n }), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }));
    case ScalarType.UINT64:
    case ScalarType.FIXED64:
      return fc.oneof(fc.bigInt({ min: 0n, max: 5000n }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n }));
    case ScalarType.DOUBLE:
    case ScalarType.FLOAT:
      return fc.double();
    case ScalarType.BYTES:
      return fc.uint8Array({ maxLength: 64 });
    default:
      return fc.constant(undefined);
  }
}

function enumValue(e: DescEnum): fc.Arbitrary<number> {
  return fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...e.values.map((v) => v.number)) }, { weight: 1, arbitrary: fc.integer({ min: -3, max: 50 }) });
}

function fieldValue(field: DescField, depth: number): fc.Arbitrary<unknown> {
  switch (field.fieldKind) {
    case "scalar":
      return scalar(field.scalar, field);
    case "enum":
      return enumValue(field.enum);
    case "message":
      return depth > 0 ? message(field.message, depth - 1) : fc.constant(undefined);
    case "list": {
      const item =
        field.listKind === "scalar"
          ? scalar(field.scalar, field)
          : field.listKind === "enum"
            ? enumValue(field.enum)
            : depth > 0
              ? message(field.message, depth - 1)
              : fc.constant(undefined);
      return fc.array(item, { maxLength: 3 }).map((a) => a.filter((x) => x !== undefined));
    }
    case "map": {
      const value =
        field.mapKind === "scalar"
          ? scalar(field.scalar, field)
          : field.mapKind === "enum"
            ? enumValue(field.enum)
            : depth > 0
              ? message(field.message, depth - 1)
              : fc.constant(undefined);
      return fc.dictionary(fc.string({ maxLength: 6 }), value, { maxKeys: 3 });
    }
  }
}

const cache = new Map<string, fc.Arbitrary<Record<string, unknown>>>();

/** An init shape for `schema`: any subset of its fields, each with a hostile value. */
export function message(schema: DescMessage, depth = 2): fc.Arbitrary<Record<string, unknown>> {
  const key = `${schema.typeName}/${depth}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const parts: Record<string, fc.Arbitrary<unknown>> = {};
  for (const field of schema.fields) {
    if (field.oneof) continue;
    parts[field.localName] = fieldValue(field, depth);
  }
  for (const oneof of schema.oneofs) {
    parts[oneof.localName] = fc.oneof(
      fc.constant(undefined),
      ...oneof.fields.map((f) => fieldValue(f, depth).map((value) => (value === undefined ? undefined : { case: f.localName, value }))),
    );
  }
  const arb = fc.record(parts, { requiredKeys: [] }).map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)));
  cache.set(key, arb);
  return arb;
}
