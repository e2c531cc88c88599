// A start refused by its flow's inputSchema says what is wrong in a message
// of bounded size: a schema of nested anyOf collects an error per path tried
// (millions), and the message listing them all was 65 MB, which dropped the call.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { inputProblem } from "../../src/sandbox/json-schema.js";

/** Nested anyOf through $ref, `depth` levels: a non-matching value gets about 3 × 2^depth errors. */
function nestedAnyOf(depth: number): string {
  const definitions: Record<string, unknown> = {};
  for (let i = 0; i < depth; i++) definitions[`l${i}`] = { anyOf: [{ $ref: `#/definitions/l${i + 1}` }, { $ref: `#/definitions/l${i + 1}` }] };
  definitions[`l${depth}`] = { type: "string" };
  return JSON.stringify({ type: "object", properties: { a: { $ref: "#/definitions/l0" } }, definitions });
}

describe("inputSchema refusals", () => {
  it("list each distinct problem once, at most twenty, however many errors the check collected", () => {
    const problem = inputProblem(nestedAnyOf(12), { a: 1 });
    assert.ok(problem && "refused" in problem);
    assert.equal(problem.refused, "input.a must be string; input.a must match a schema in anyOf");
  });

  it("say how many more problems there are past twenty", () => {
    const schema = JSON.stringify({ type: "object", properties: Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`p${i}`, { type: "string" }])) });
    const problem = inputProblem(schema, Object.fromEntries(Array.from({ length: 30 }, (_, i) => [`p${i}`, i])));
    assert.ok(problem && "refused" in problem);
    assert.match(problem.refused, /^input\.p0 must be string; .*input\.p19 must be string; and 10 more$/);
  });

  it("name every missing required input", () => {
    const problem = inputProblem(JSON.stringify({ type: "object", required: ["a", "b"] }), {});
    assert.deepEqual(problem, { refused: "missing required inputs: a, b" });
  });
});
