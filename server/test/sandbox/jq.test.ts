// JSON_JQ_TRANSFORM through a real jq: results, jq's own errors, limits, and
// no access to the host.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { Json } from "../../src/expressions/index.js";
import { createJq, JqError, type Jq, type JqErrorKind } from "../../src/sandbox/index.js";

let jq: Jq;

before(async () => {
  // A long limit for the ordinary cases, so that a busy machine does not fail them.
  jq = await createJq({ timeoutMs: 10_000, memoryBytes: 64 * 1024 * 1024 });
});

after(async () => {
  await jq.close();
});

async function fails(filter: string, input: Json, kind: JqErrorKind, message?: RegExp, on: Jq = jq): Promise<void> {
  await assert.rejects(on.transform(filter, input), (error: unknown) => {
    assert.ok(error instanceof JqError, `not a JqError: ${String(error)}`);
    assert.equal(error.kind, kind, error.message);
    if (message) assert.match(error.message, message);
    return true;
  });
}

async function stillWorks(): Promise<void> {
  assert.deepEqual(await jq.transform(".n + 1", { n: 1 }), { result: 2, resultList: [2] });
}

describe("results", () => {
  const cases: [string, Json, Json[]][] = [
    [".a", { a: 1 }, [1]],
    [".list[]", { list: [1, "two", null, { three: 3 }] }, [1, "two", null, { three: 3 }]],
    ["empty", {}, []],
    [".missing", {}, [null]],
    // Conductor's own fixtures
    [".input as $_ | { out: ($_.in1.array + $_.in2.array) }", { input: { in1: { array: ["a"] }, in2: { array: ["b", "c"] } } }, [{ out: ["a", "b", "c"] }]],
    [".tp2.TEST_SAMPLE | length", { tp2: { TEST_SAMPLE: [{}, {}] } }, [2]],
    ['if(.data | length >0) then "EXISTS" else "CREATE" end', { data: [] }, ["CREATE"]],
    [
      // jackson-jq syntax (an expression as object value), from sequential_json_jq_transform_integration_test.json
      '{ requestTransform: .input.requestTransform // ".body"  , responseTransform: .input.responseTransform // ".response.body", method: .input.method // "GET", document: .input.document // "rgt_results", successExpression: .input.successExpression // "true"   }',
      { input: { method: "POST" } },
      [{ requestTransform: ".body", responseTransform: ".response.body", method: "POST", document: "rgt_results", successExpression: "true" }],
    ],
    ['{a: .x // 1, b: {c: .y // [1, 2] | length}, "d\\(.z // 0)": 3}', { x: null, z: 5 }, [{ a: 1, b: { c: 2 }, d5: 3 }]],
    ['{ out: ({ "locationId": .locationIdValue }) }', { locationIdValue: "L1" }, [{ out: { locationId: "L1" } }]],
    [".inputData.request.transitions | map(.name)", { inputData: { request: { transitions: [{ name: "x" }, { name: "y" }] } } }, [["x", "y"]]],
    // strings with newlines and unicode survive the line-per-result output
    ['.s, "line1\\nline2"', { s: 'é中😀\t"q"' }, ['é中😀\t"q"', "line1\nline2"]],
    ["1e1000", null, [Number.MAX_VALUE]],
    ["[paths]", { a: [1] }, [[["a"], ["a", 0]]]],
    ["debug | .a", { a: 1 }, [1]],
  ];
  for (const [filter, input, resultList] of cases) {
    it(filter, async () => assert.deepEqual(await jq.transform(filter, input), { result: resultList[0] ?? null, resultList }));
  }

  it("a large input and a large output come through whole", async () => {
    const input = { items: Array.from({ length: 30_000 }, (_, i) => ({ id: i, name: `item-${i}` })) }; // about 1 MB
    const { result } = await jq.transform("[.items[] | select(.id % 2 == 0) | .name] | length", input);
    assert.equal(result, 15_000);
    const echoed = (await jq.transform(".items", input)).result as unknown[];
    assert.deepEqual(echoed, input.items);
  });
});

describe("jq's errors", () => {
  it("error() gives jq's message", async () => await fails('.a | error("boom")', { a: 1 }, "runtime", /^jq: error \(at <stdin>:0\): boom$/));

  it("an error after some output still fails the transform", async () => {
    await fails('.[] | if . > 1 then error("late") else . end', [1, 2, 3], "runtime", /late/);
  });

  it("a type error", async () => await fails(".a + 1", { a: "x" }, "runtime", /string \("x"\) and number \(1\) cannot be added/));

  it("a syntax error is a compile error", async () => await fails(".a |||", {}, "compile", /syntax error/));

  it("a syntax error in an object keeps jq's message when the jackson-jq reading fails too", async () => {
    await fails("{a: .x // }", {}, "compile", /^jq: error: syntax error, unexpected \/\/, expecting '}'/);
  });

  it("an unknown function is a compile error", async () => await fails("nosuchfn(1)", {}, "compile", /nosuchfn\/1 is not defined/));

  it("halt_error carries its message", async () => await fails('"bye" | halt_error(1)', {}, "runtime", /^bye$/));

  it("the next filter is unaffected", async () => await stillWorks());
});

describe("limits", () => {
  it("a runaway filter is stopped at its time limit and jq comes back", async () => {
    const quick = await createJq({ timeoutMs: 300 });
    try {
      await fails("def f: f; f", {}, "timeout", /300 ms/, quick);
      await fails("[limit(1e9; repeat(1))] | length", {}, "timeout", undefined, quick);
      // jq cannot be interrupted: each was stopped by terminating its thread.
      assert.equal(quick.stats().workerRestarts, 2);
      assert.deepEqual((await quick.transform(".n + 1", { n: 1 })).result, 2);
    } finally {
      await quick.close();
    }
  });

  it("a memory bomb stops at the memory limit and jq comes back", async () => {
    await fails("def f: [., f]; f", "x", "memory", /memory limit/);
    await stillWorks();
  });
});

describe("no access to the host", () => {
  it("modules cannot be loaded from the host's files", async () => {
    await fails('import "/etc/passwd" as $p; $p', {}, "compile", /module not found/);
    await fails('include "/etc/hostname"; .', {}, "compile", /module not found/);
  });

  it("$ENV is made up, not the server's environment", async () => {
    process.env["BATON_JQ_TEST_SECRET"] = "hidden";
    try {
      const env = (await jq.transform("$ENV", {})).result as Record<string, string>;
      assert.equal(env["BATON_JQ_TEST_SECRET"], undefined);
      assert.equal(env["PATH"], "/");
      assert.deepEqual((await jq.transform("env.BATON_JQ_TEST_SECRET", {})).result, null);
    } finally {
      delete process.env["BATON_JQ_TEST_SECRET"];
    }
  });

  it("input_filename and inputs see only the one input", async () => {
    assert.deepEqual((await jq.transform("[inputs]", 1)).result, []);
  });
});
