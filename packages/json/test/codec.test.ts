// parseJson keeps integers beyond 2^53 exact, and reads the text a second
// time only when it holds one: a long digit run inside a string (an id, a
// timestamp) costs one native parse, and the second reading puts the integers
// back without a reviver (which calls back for every value).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseJson, stringifyJson } from "../src/index.js";

/** Counts the native parses `fn` makes, and how many of them were given a reviver. */
function nativeParses<T>(fn: () => T): { result: T; parses: number; revivers: number } {
  const original = JSON.parse;
  let parses = 0;
  let revivers = 0;
  JSON.parse = ((text: string, reviver?: Parameters<typeof JSON.parse>[1]) => {
    parses++;
    if (reviver) revivers++;
    return original(text, reviver);
  }) as typeof JSON.parse;
  try {
    return { result: fn(), parses, revivers };
  } finally {
    JSON.parse = original;
  }
}

describe("parseJson", () => {
  it("keeps integers beyond 2^53 exact, wherever they are, and leaves the rest as the native parser reads it", () => {
    const text =
      '{"big": 12345678901234567890123, "neg": -9007199254740993, "edge": 9007199254740992, "safe": 9007199254740991,' +
      ' "sixteen": 1234567890123456, "list": [1, 98765432109876543210, {"deep": [[-11111111111111111111]]}],' +
      ' "inString": "12345678901234567890", "fraction": 12345678901234567890.5, "exponent": 1234567890123456789e3,' +
      ' "__proto__": 22222222222222222222, "escaped": "a\\"12345678901234567890\\"b"}';
    const value = parseJson(text) as Record<string, unknown>;
    assert.equal(value["big"], 12345678901234567890123n);
    assert.equal(value["neg"], -9007199254740993n);
    assert.equal(value["edge"], 9007199254740992n);
    assert.equal(value["safe"], 9007199254740991);
    assert.equal(value["sixteen"], 1234567890123456);
    assert.deepEqual(value["list"], [1, 98765432109876543210n, { deep: [[-11111111111111111111n]] }]);
    assert.equal(value["inString"], "12345678901234567890");
    // Written with a fraction or an exponent: a decimal, read as the native parser reads it.
    assert.equal(value["fraction"], JSON.parse("12345678901234567890.5"));
    assert.equal(value["exponent"], JSON.parse("1234567890123456789e3"));
    assert.equal(typeof value["exponent"], "number");
    assert.equal(Object.getOwnPropertyDescriptor(value, "__proto__")?.value, 22222222222222222222n);
    assert.equal(Object.getPrototypeOf(value), Object.prototype);
    assert.equal(value["escaped"], 'a"12345678901234567890"b');
    assert.equal(stringifyJson(parseJson("[12345678901234567890123]")), "[12345678901234567890123]");
    assert.equal(parseJson("12345678901234567890123"), 12345678901234567890123n);
    assert.equal(parseJson('"12345678901234567890123"'), "12345678901234567890123");
  });

  it("parses a long digit run inside a string once, and an integer beyond 2^53 with no reviver", () => {
    const rows = Array.from({ length: 1_000 }, (_, i) => ({ id: `17332123456789${String(i).padStart(6, "0")}`, n: i }));
    const inStrings = nativeParses(() => parseJson(JSON.stringify({ rows })));
    assert.deepEqual(inStrings.result, { rows });
    assert.equal(inStrings.parses, 1, "the text was parsed again though no number needed it");
    const withBig = nativeParses(() => parseJson(JSON.stringify({ rows }).replace(/^\{/, '{"big":12345678901234567890,')));
    assert.deepEqual(withBig.result, { big: 12345678901234567890n, rows });
    assert.deepEqual([withBig.parses, withBig.revivers], [2, 0]);
  });
});
