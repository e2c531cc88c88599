// usesMoreKeyNamesThan counts the distinct key names of a JSON text's objects
// from its characters: strings that are values do not count, nor colons and
// quotes inside strings, and it agrees with the names of the parsed value.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { usesMoreKeyNamesThan } from "../src/index.js";

/** The distinct key names of a parsed value's objects. */
function namesOf(value: unknown, names = new Set<string>()): Set<string> {
  if (value !== null && typeof value === "object") {
    if (!Array.isArray(value)) for (const key of Object.keys(value)) names.add(key);
    for (const item of Object.values(value)) namesOf(item, names);
  }
  return names;
}

/** `text` padded with white space so that it is long enough to be read for `limit`. */
const padded = (text: string, limit: number) => text + " ".repeat(limit * 5 + 1);

describe("usesMoreKeyNamesThan", () => {
  it("agrees with the parsed value's names", () => {
    const texts = [
      "[1, 2, 3]",
      '{"a":1,"b":{"a":2,"c":"d:e"}}',
      '[{"k\\"1":"v"},{"k\\"1" : "x"},{"z": ["q", "r"]}]',
      '{"s":"\\\\","t":"a\\":b","u":{"v":{"w":null}}}',
      JSON.stringify({ list: Array.from({ length: 30 }, (_, i) => ({ [`n${i % 7}`]: `v${i}:` })) }),
    ];
    for (const text of texts) {
      const count = namesOf(JSON.parse(text)).size;
      assert.equal(usesMoreKeyNamesThan(padded(text, count), count), false, `${text} within ${count}`);
      if (count > 0) assert.equal(usesMoreKeyNamesThan(padded(text, count - 1), count - 1), true, `${text} over ${count - 1}`);
    }
  });

  it("counts names, not keys: the same names in many objects are few", () => {
    const repeated = JSON.stringify(Array.from({ length: 5_000 }, (_, i) => ({ id: i, name: `n${i}`, note: "x" })));
    assert.equal(usesMoreKeyNamesThan(repeated, 3), false);
    const fresh = JSON.stringify(Array.from({ length: 5_000 }, (_, i) => ({ [`id${i}`]: i })));
    assert.equal(usesMoreKeyNamesThan(fresh, 4_999), true);
    assert.equal(usesMoreKeyNamesThan(fresh, 5_000), false);
  });
});
