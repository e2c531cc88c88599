// A JSON payload nested deeper than MAX_JSON_DEPTH, or holding a NUL
// character (which PostgreSQL's jsonb cannot store), is refused, naming the
// field; everything else is taken as parsed, text that only looks like either
// too (brackets inside strings, an escaped backslash before u0000): what a
// check reading the text rather than the parsed value would have to keep.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parsePayload } from "../../src/service/errors.js";
import { checkJson, MAX_JSON_DEPTH } from "../../src/service/json-checks.js";

const LIMIT = 2 * 1024 * 1024;
/** An object `levels` deep: arrays inside it, or objects ending in a 1. */
const nested = (levels: number, open = "[", close = "]", inner = "") => `{"a":${open.repeat(levels - 1)}${inner}${close.repeat(levels - 1)}}`;
const refusal = (text: string) => {
  try {
    parsePayload("output_json", text, LIMIT);
  } catch (error) {
    return (error as Error).message;
  }
  return undefined;
};

describe("a JSON payload's depth and NUL characters", () => {
  it("is refused nested deeper than the limit, objects or arrays; taken at the limit", () => {
    assert.equal(refusal(nested(MAX_JSON_DEPTH)), undefined);
    assert.match(refusal(nested(MAX_JSON_DEPTH + 1)) ?? "", /output_json nests deeper than 100 levels/);
    assert.equal(refusal(nested(MAX_JSON_DEPTH, '{"b":', "}", "1")), undefined);
    assert.match(refusal(nested(MAX_JSON_DEPTH + 1, '{"b":', "}", "1")) ?? "", /nests deeper than 100 levels/);
  });

  it("counts no bracket inside a string, escaped quotes and backslashes included", () => {
    const brackets = "[{".repeat(200);
    assert.deepEqual(parsePayload("output_json", JSON.stringify({ s: brackets, t: `\\"${brackets}`, u: "\\" }), LIMIT), {
      s: brackets,
      t: `\\"${brackets}`,
      u: "\\",
    });
    assert.match(refusal(`{"s":"\\\\","deep":${"[".repeat(MAX_JSON_DEPTH)}${"]".repeat(MAX_JSON_DEPTH)}}`) ?? "", /nests deeper/);
  });

  it("is refused holding a NUL character in a value or a key; an escaped backslash before u0000 is no NUL", () => {
    assert.match(refusal('{"a":"x\\u0000y"}') ?? "", /output_json holds a NUL character/);
    assert.match(refusal('{"a":{"k\\u0000":1}}') ?? "", /holds a NUL character/);
    assert.deepEqual(parsePayload("output_json", '{"a":"\\\\u0000"}', LIMIT), { a: "\\u0000" });
  });

  it("finds a NUL deep in lists, in a value given with its text or without one", () => {
    const value = { rows: [1, "two", [null, { k: ["x", "y\u0000"] }]] };
    const text = JSON.stringify(value);
    assert.match(refusal(text) ?? "", /output_json holds a NUL character/);
    assert.throws(() => checkJson("input", value, text), /input holds a NUL character/);
    assert.throws(() => checkJson("input", value), /input holds a NUL character/);
    assert.throws(() => checkJson("input", "\u0000", '"\\u0000"'), /input holds a NUL character/);
    assert.doesNotThrow(() => checkJson("input", { rows: [1, "two", [null, { k: ["x", "y"] }]] }, '{"rows":[1,"two",[null,{"k":["x","y"]}]]}'));
  });
});
