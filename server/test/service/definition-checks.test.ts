// A definition's paths are checked at publish time in the queries pool, in
// batches under the pool's time limit: a batch that runs out is checked again
// path by path, so a path whose check runs out alone is refused by its field,
// and the others are checked as usual.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import type { WorkflowDef } from "@baton/sdk";
import { createQueries } from "../../src/sandbox/queries.js";
import { definitionProblems } from "../../src/service/definition-checks.js";

/** A filter whose pattern is an alternation of `n` words: its check (parsing, RE2 compiling) takes about 2 s at 130,000 on a 2-core machine (130,000 is near the most a path's split allows). */
const manyWords = (n: number) => `\${workflow.input.items[?(@.s.match(/^(${Array.from({ length: n }, (_, i) => `w${i}`).join("|")})$/))]}`;

const def = (inputParameters: Record<string, string>): WorkflowDef =>
  ({ name: "w", version: 1, schemaVersion: 2, tasks: [{ name: "n", taskReferenceName: "n", type: "NOOP", inputParameters }] }) as WorkflowDef;

describe("publish-time path checks in the queries pool", () => {
  // A limit far under the slow path's cost (seconds), far over the others' (a few ms each), even on a loaded machine.
  // At 20,000 words and 1,000 ms the slow path was checked in time on a quiet machine (CI), and the test failed.
  const limited = createQueries({ pathMs: 400 });
  const queries = createQueries();
  after(() => Promise.all([limited.close(), queries.close()]));

  it("a path whose check runs past the limit is refused naming its field; the other paths are checked as usual", async () => {
    const problems = await definitionProblems(
      def({ fine: "${workflow.input.items[?(@.n > 1)]}", slow: manyWords(130_000), bad: "${workflow.input.items[?(@.s.match(/(?=a)a/))]}" }),
      limited,
    );
    const byPath = new Map(problems.map((p) => [p.path, p.message]));
    assert.equal(byPath.has("/tasks/0/inputParameters/fine"), false);
    assert.match(
      byPath.get("/tasks/0/inputParameters/slow") ?? "",
      /checking the path (used more than|was still running after 4000 ms by the wall clock, short of) its 400 ms of CPU time.* and was stopped; split it into smaller filters/,
    );
    assert.ok((byPath.get("/tasks/0/inputParameters/slow") ?? "").length < 400, "the message quotes the start of a long path, not all of it");
    assert.match(byPath.get("/tasks/0/inputParameters/bad") ?? "", /the regular expression \/\(\?=a\)a\/ is not supported/);
    assert.equal(problems.length, 2);
  });

  it("a definition of many filters is checked in batches, each bad one named by its field", async () => {
    const params: Record<string, string> = {};
    for (let i = 0; i < 300; i++) params[`p${i}`] = `\${workflow.input.items[?(@.s.match(/^a${i}+$/) && @.n > ${i})].id}`;
    params["p150"] = "${workflow.input.items[?(@.s.repeat(9))]}";
    const problems = await definitionProblems(def(params), queries);
    assert.deepEqual(
      problems.map((p) => p.path),
      ["/tasks/0/inputParameters/p150"],
    );
    assert.match(problems[0]!.message, /calling repeat is not supported in a filter/);
  });
});
