// JSONPath filters say what they refuse, and no pattern call overruns a
// query's budget (issue 14, point 1). Before: a pattern RE2 cannot run, a
// method the evaluator does not offer, a pattern read from data, all read as
// missing with nothing said; match() compiled a pattern from data once per
// item; and a pattern call was charged for its text's length only, so one
// match() of a 20-instruction pattern over 2 MiB ran for seconds.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { compilePath, pathProblems } from "../../src/expressions/index.js";

const MiB = 1024 * 1024;
const items = [
  { id: "a", s: "aaa", n: 1, tags: ["x"] },
  { id: "b", s: "abc", n: 5, tags: [] },
  { id: "c", s: "ABC", n: 9, flag: true, tags: ["x", "y"] },
];
const ids = (path: string) => compilePath(path).read({ items });

describe("legitimate filters", () => {
  const cases: [string, unknown][] = [
    ["$.items[?(@.id == 'b')].id", ["b"]],
    ["$.items[?(@.id != 'b')].id", ["a", "c"]],
    ["$.items[?(@.n > 1 && @.n < 9)].id", ["b"]],
    ["$.items[?(@.n <= 1 || @.n >= 9)].id", ["a", "c"]],
    ["$.items[?(@.flag)].id", ["c"]],
    ["$.items[?(!@.flag)].id", ["a", "b"]],
    ["$.items[?(@.n == '5')].id", ["b"]],
    ["$.items[?(@.tags.includes('x'))].id", ["a", "c"]],
    ["$.items[?(@.s.startsWith('ab'))].id", ["b"]],
    ["$.items[?(@.s.match(/^a+$/))].id", ["a"]],
    ["$.items[?(@.s.match('^a+$'))].id", ["a"]],
    ["$.items[?(@.s.match(/^abc$/i))].id", ["b", "c"]],
    ["$.items[?(/b/.test(@.s))].id", ["b"]],
    ["$.items[?(@.s.match(/^(a+)+$/))].id", ["a"]],
  ];
  for (const [path, expected] of cases) {
    it(path, () => {
      assert.deepEqual(ids(path), { found: true, value: expected });
      assert.deepEqual(pathProblems(path), [], "and it is not refused at publish time");
    });
  }
});

describe("a refused construct is said, with what to use instead", () => {
  const cases: [string, RegExp][] = [
    [
      "$.items[?(@.s.match(/(?=a)a/))]",
      /the regular expression \/\(\?=a\)a\/ is not supported \(.*`\(\?=`\): filters match on RE2: no lookaround, no backreferences/,
    ],
    ["$.items[?(@.s.match(/(a)\\1/))]", /the regular expression \/\(a\)\\1\/ is not supported .*no backreferences/],
    ["$.items[?(@.s.match(@root.p))]", /match\(\) takes a pattern written in the filter \(\/\.\.\.\/ or '\.\.\.'\), not one read from data/],
    ["$.items[?(@.s.repeat(1000))]", /calling repeat is not supported in a filter; the methods a filter may call are startsWith, .*match, test/],
    ["$.items[?(@.s =~ /a/)]", /=~ \(Jayway's pattern match\) is not supported in a filter; use \/pattern\/\.test\(@\.x\) or @\.x\.match\(\/pattern\/\)/],
    ["$.items[?(process == 1)]", /process is not defined in a filter; use @ for the item, @root for the document/],
    ["$.items[?(@.s.match(/a/y))]", /the regular expression flag y is not supported in a filter; use i, m or s/],
  ];
  for (const [path, message] of cases) {
    it(path, () => {
      const problems = pathProblems(path);
      assert.equal(problems.length, 1, problems.join(" | "));
      assert.match(problems[0]!, message);
    });
  }

  it("at run time a pattern read from data does not match (it would be compiled per item)", () => {
    assert.deepEqual(compilePath("$.items[?(@.s.match(@root.p))].id").read({ p: "a", items }), { found: true, value: [] });
  });
});

describe("a pattern call is charged for its text times its program", () => {
  it("one match() too costly for the query's budget is refused before it runs: the query reads as missing", () => {
    // RE2 runs this 100-instruction program over every character: 2 MiB x 100 is
    // over the budget. Before, it was charged 2 MiB / 64 steps and ran, for seconds.
    const root = { items: [{ s: "a".repeat(2 * MiB) }] };
    assert.deepEqual(compilePath("$.items[?(@.s.match(/(.*a){20}/))]").read(root), { found: false });
    assert.deepEqual(compilePath("$.items[?(/(.*a){20}/.test(@.s))]").read(root), { found: false });
  });

  it("the same pattern over ordinary text answers", () => {
    const root = { items: Array.from({ length: 100 }, (_, i) => ({ i, s: `${"a".repeat(1_000)}${i % 2 ? "" : "b"}` })) };
    const read = compilePath("$.items[?(@.s.match(/(.*a){20}b/))].i").read(root);
    assert.equal(read.found, true);
    assert.equal((read as { value: unknown[] }).value.length, 50);
  });
});

describe("a path that goes to the query engine is bounded in what it costs to split", () => {
  // jsonpath-plus splits at each dot looking ahead to the next bracket: this path took 6.8 s.
  const long = `$.${"a.".repeat(40_000)}[*]`;
  it("a costlier one reads as missing at once and is refused at publish, saying why", () => {
    assert.deepEqual(compilePath(long).read({ a: [1] }), { found: false });
    assert.match(
      pathProblems(long)[0] ?? "",
      /a path with wildcards, filters, slices or a deep scan costs \d+ steps to split, over 2000000 \(its dotted names run long before a bracket\)/,
    );
  });

  it("long filters and long bracketed paths still answer", () => {
    const deep = { a: { a: { a: [{ s: "x".repeat(16_384) }, { s: "y" }] } } };
    const literal = `$.a.a.a[?(@.s == '${"x".repeat(16_384)}')].s`;
    assert.deepEqual(compilePath(literal).read(deep), { found: true, value: ["x".repeat(16_384)] });
    assert.deepEqual(pathProblems(literal), []);
    const bracketed = `$${"['a']".repeat(3)}[?(@.s == 'y')].s`;
    assert.deepEqual(compilePath(bracketed).read(deep), { found: true, value: ["y"] });
  });
});
