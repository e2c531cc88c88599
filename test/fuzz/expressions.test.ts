// `${...}` resolution on hostile templates and contexts: it never throws, and
// what comes out is plain JSON that shares nothing with its inputs.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { resolveParameters } from "../../server/src/expressions/index.js";
import { fuzzRuns, name, template, templated } from "./arbitraries.js";

/** A run context like the decider's: workflow input/output/variables and one entry per task. */
const context = fc.record({
  workflow: fc.record(
    { input: fc.dictionary(name, fc.jsonValue({ maxDepth: 3 })), variables: fc.dictionary(name, fc.jsonValue({ maxDepth: 2 })), workflowId: fc.string() },
    { requiredKeys: [] },
  ),
  a: fc.record({ input: fc.jsonValue({ maxDepth: 3 }), output: fc.jsonValue({ maxDepth: 3 }) }, { requiredKeys: [] }),
  t1: fc.anything({ maxDepth: 3 }),
});

function isPlainJson(value: unknown, depth = 0): boolean {
  if (depth > 200) return false;
  if (value === null || typeof value === "string" || typeof value === "boolean") return true;
  if (typeof value === "number") return Number.isFinite(value);
  if (typeof value === "bigint") return true; // exact integers are kept as BigInt end to end
  if (Array.isArray(value)) return value.every((v) => isPlainJson(v, depth + 1));
  if (typeof value === "object") return Object.getPrototypeOf(value) === Object.prototype && Object.values(value).every((v) => isPlainJson(v, depth + 1));
  return false;
}

describe("expression resolution on hostile input", () => {
  it("resolveParameters never throws and returns plain JSON", () => {
    fc.assert(
      fc.property(fc.dictionary(name, templated, { maxKeys: 5 }), context, fc.option(fc.uuid(), { nil: undefined }), (tpl, ctx, taskId) => {
        let out;
        try {
          out = resolveParameters(tpl, ctx, taskId === undefined ? { runFilters: true } : { taskId, runFilters: true });
        } catch (error) {
          assert.fail(`threw ${(error as Error).message} on ${JSON.stringify(tpl)}`);
        }
        // (No String(out) here: a template may have a key named toString.)
        if (!isPlainJson(out)) assert.fail(`not plain JSON for template ${JSON.stringify(tpl)}`);
      }),
      { numRuns: fuzzRuns(1000) },
    );
  });

  it("a single template string on any context never throws", () => {
    fc.assert(
      fc.property(template, fc.anything({ maxDepth: 3 }), (t, anything) => {
        const ctx = anything !== null && typeof anything === "object" && !Array.isArray(anything) ? (anything as Record<string, unknown>) : { x: anything };
        resolveParameters({ k: t }, ctx, { runFilters: true });
      }),
      { numRuns: fuzzRuns(1000) },
    );
  });

  it("the result shares nothing with the context (changing it changes nothing stored)", () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 3 }), (value) => {
        const ctx = { a: { output: { v: value } } };
        const out = resolveParameters({ k: "${a.output.v}", l: ["${a.output}"] }, ctx, { runFilters: true });
        const before = JSON.stringify(out);
        if (value !== null && typeof value === "object") (value as Record<string, unknown>)["__mutated"] = 1;
        ctx.a.output.v = "changed" as never;
        assert.equal(JSON.stringify(out), before);
      }),
      { numRuns: fuzzRuns(500) },
    );
  });

  it("pathological templates: long, deeply nested, many expressions", () => {
    const ctx = { a: { b: [1, 2, 3] }, workflow: { input: {} } };
    const cases = [
      "${".repeat(10_000),
      "${a.b}".repeat(20_000),
      "${".repeat(500) + "a.b" + "}".repeat(500),
      "$${".repeat(5000) + "}",
      "${a" + ".b".repeat(10_000) + "}",
      "${a" + "[0]".repeat(10_000) + "}",
      "${$..*..*..*}",
      "${a[?(@ == @ && @ == @ && @ == @)]}",
    ];
    for (const t of cases) {
      try {
        resolveParameters({ k: t }, ctx, { runFilters: true });
      } catch (error) {
        assert.fail(`threw ${(error as Error).message} on a ${t.length}-character template starting ${t.slice(0, 40)}`);
      }
    }
  });
});
