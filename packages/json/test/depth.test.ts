// nestsDeeperThan reads a JSON text's depth from its characters: brackets in
// strings do not count, escaped quotes do not end a string, and it agrees
// with the depth of the parsed value.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nestsDeeperThan } from "../src/index.js";

/** The depth of a parsed value, counted the way the server's checks count it. */
function depthOf(value: unknown): number {
  if (value === null || typeof value !== "object") return 0;
  return 1 + Math.max(0, ...Object.values(value).map(depthOf));
}

describe("nestsDeeperThan", () => {
  it("agrees with the parsed value's depth", () => {
    const texts = [
      "1",
      '"[[["',
      "[]",
      '{"a":[1,{"b":[]}]}',
      '[["]]]]"],{"k\\"[":"\\\\"},[[[]]]]',
      '{"s":"a\\\\\\"[[[","t":[[["x\\\\"]]]}',
      JSON.stringify({ a: "\\".repeat(7) + '"[[', b: [[[[{ c: "}}}" }]]]] }),
    ];
    for (const text of texts) {
      const depth = depthOf(JSON.parse(text));
      assert.equal(nestsDeeperThan(text, depth), false, `${text} within ${depth}`);
      if (depth > 0) assert.equal(nestsDeeperThan(text, depth - 1), true, `${text} deeper than ${depth - 1}`);
    }
  });

  it("stops at the first level over the limit, and reads an unterminated string to its end", () => {
    assert.equal(nestsDeeperThan("[".repeat(1_000_000), 100), true);
    assert.equal(nestsDeeperThan('["' + "[".repeat(1000), 100), false);
  });
});
