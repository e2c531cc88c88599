// JSON Schema's `uniqueItems` in linear time. ajv compares every pair of
// items that are objects or arrays (deep equality): quadratic, on the thread
// that serves calls, for an input schema a publisher writes and an input an
// operator sends (20,000 distinct objects, 229 KB, took 43 s; 2 MiB of them,
// hours). Here each item's canonical JSON (keys sorted, so key order does not
// matter, as with deep equality) goes into a set: one pass.
import type { Ajv, ErrorObject } from "ajv";
import { canonicalJson } from "../runtime/definition-hash.js";

/** Replaces ajv's `uniqueItems` with the linear check. */
export function withLinearUniqueItems<T extends Ajv>(ajv: T): T {
  ajv.removeKeyword("uniqueItems");
  const check = (unique: boolean, data: unknown[]): boolean => {
    check.errors = [];
    if (!unique) return true;
    const seen = new Map<string, number>();
    for (let i = 0; i < data.length; i++) {
      const key = canonicalJson(data[i]);
      const first = seen.get(key);
      if (first !== undefined) {
        check.errors = [
          {
            keyword: "uniqueItems",
            message: `must NOT have duplicate items (items ## ${first} and ${i} are identical)`,
            params: { i: first, j: i },
          } as Partial<ErrorObject> as ErrorObject,
        ];
        return false;
      }
      seen.set(key, i);
    }
    return true;
  };
  check.errors = [] as ErrorObject[];
  ajv.addKeyword({ keyword: "uniqueItems", type: "array", schemaType: "boolean", errors: true, validate: check });
  return ajv;
}
