// jackson-jq's object values, rewritten for real jq.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parenthesizeObjectValues } from "../../src/sandbox/jq-compat.js";

describe("parenthesizeObjectValues", () => {
  const cases: [string, string | undefined][] = [
    ['{ m: .method // "GET" }', '{ m: ( .method // "GET" )}'],
    ["{a: 1, b: 2}", "{a: ( 1), b: ( 2)}"],
    ["{a: {b: .x // 1}}", "{a: ( {b: ( .x // 1)})}"],
    ["{a: .[1:2], b: (.c, .d)}", "{a: ( .[1:2]), b: ( (.c, .d))}"],
    ['{"k:": "v,}"}', '{"k:": ( "v,}")}'],
    ['"\\({a: .x // 1})"', '"\\({a: ( .x // 1)})"'],
    ['{a: "\\(.x)}"}', '{a: ( "\\(.x)}")}'],
    ["{a: 1 # a comment: with, punctuation}\n}", "{a: ( 1 # a comment: with, punctuation}\n)}"],
    ["{a, $b}", undefined], // nothing to wrap
    [".a | .b", undefined],
    ["{a: 1", undefined], // unbalanced: leave it to jq's error
    ["(]", undefined],
  ];
  for (const [filter, expected] of cases) {
    it(filter, () => assert.equal(parenthesizeObjectValues(filter), expected));
  }
});
