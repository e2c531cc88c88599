// A definition's paths are checked at publish time in the queries pool, in
// batches under the pool's time limit: a batch that runs out is checked again
// path by path, so a path whose check runs out alone is refused by its field,
// and the others are checked as usual.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { createQueries } from "../../src/sandbox/queries.js";
import { ManualClock } from "../../src/clock.js";
import { checkDefinition } from "../../src/runtime/definition-check.js";
import { definitionProblems } from "../../src/service/definition-checks.js";
import { inTurn, PUBLISH_REFILL_MS, PublishBudgets } from "../../src/service/publish-budgets.js";

/** A filter whose pattern is an alternation of `n` words: its check (parsing, RE2 compiling) takes about 2 s at 130,000 on a 2-core machine (130,000 is near the most a path's split allows). */
const manyWords = (n: number) => `\${workflow.input.items[?(@.s.match(/^(${Array.from({ length: n }, (_, i) => `w${i}`).join("|")})$/))]}`;

/** A definition of one task of these parameters, as the queries pool reads it (definition-check.ts). */
const def = (inputParameters: Record<string, string>) =>
  checkDefinition(
    "definition_json",
    JSON.stringify({ name: "w", version: 1, schemaVersion: 2, tasks: [{ name: "n", taskReferenceName: "n", type: "NOOP", inputParameters }] }),
    Infinity,
  );

describe("publish-time path checks in the queries pool", () => {
  // A limit far under the slow path's cost (seconds), far over the others' (a few ms each), even on a loaded machine.
  // At 20,000 words and 1,000 ms the slow path was checked in time on a quiet machine (CI), and the test failed.
  const limited = createQueries({ pathMs: 400 });
  const queries = createQueries();
  // The same, with a budget for a whole publish of two and a half times a path's limit.
  const budgeted = createQueries({ pathMs: 400, publishMs: 1_000 });
  after(() => Promise.all([limited.close(), queries.close(), budgeted.close()]));

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
    // Under 600: the path's first 200 characters and the longest reason (the wall-clock backstop's, on a busy machine: about 440 in all).
    assert.ok((byPath.get("/tasks/0/inputParameters/slow") ?? "").length < 600, "the message quotes the start of a long path, not all of it");
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

  /** The budgeted pool, noting what each request cost a thread: its time when it answered, all it was given when it was stopped. */
  const counting = () => {
    const spent: number[] = [];
    const checks = {
      limits: budgeted.limits,
      schemaProblem: budgeted.schemaProblem,
      pathProblems: async (paths: string[], timeoutMs = budgeted.limits.pathMs) => {
        try {
          const answer = await budgeted.pathProblems(paths, timeoutMs);
          spent.push(Math.round(answer.ms));
          return answer;
        } catch (error) {
          spent.push(timeoutMs);
          throw error;
        }
      },
    };
    return { checks, spent: () => spent.splice(0).reduce((a, b) => a + b, 0) };
  };

  it("a definition of many slow paths is stopped at the publish's budget, the paths left refused unchecked by their fields", async () => {
    // Before, each slow path had its own 400 ms (5 s by default) after its batch's: eight held a thread for 3.6 s (45 s by default).
    const { checks: counted, spent } = counting();
    const params: Record<string, string> = { fine: "${workflow.input.items[?(@.n > 1)]}" };
    for (let i = 0; i < 8; i++) params[`slow${i}`] = manyWords(130_000);
    const problems = await definitionProblems(def(params), counted);
    assert.deepEqual(
      problems.map((p) => p.path),
      Array.from({ length: 8 }, (_, i) => `/tasks/0/inputParameters/slow${i}`),
      "every slow path is refused, by its field; the fine one is not",
    );
    const unchecked = problems.filter((p) => /: not checked: the definition's paths took all of the 1000 ms a publish may spend checking them/.test(p.message));
    assert.ok(unchecked.length >= 5, `${unchecked.length} left unchecked: ${problems.map((p) => p.message.slice(-120)).join(" | ")}`);
    const total = spent();
    assert.ok(total <= 1_001, `the threads spent ${total} ms: no more than the budget in all`);
  });

  it("a key's publishes share one budget however many run at once; another key has its own; a spent one fills again with time", async () => {
    const clock = new ManualClock(0);
    const budgets = new PublishBudgets(clock, budgeted.limits.publishMs);
    const { checks: counted, spent } = counting();
    const slow = def({ slow0: manyWords(130_000), slow1: manyWords(130_000) });
    const publish = (key: string) => definitionProblems(slow, counted, budgets.of(key));

    // Before, each publish had its own 1,000 ms: four at once held the pool's threads for up to 4 × 800 ms.
    const four = await Promise.all([publish("k"), publish("k"), publish("k"), publish("k")]);
    const byKey = spent();
    assert.ok(byKey <= 1_001, `four publishes of one key spent ${byKey} ms of the pool's threads: no more than one budget`);
    const unchecked = four
      .flat()
      .filter((p) => /: not checked: this key's publishes took all of the 1000 ms their path checks may take \(given back over 60 s\)/.test(p.message));
    assert.ok(unchecked.length >= 4, `${unchecked.length} paths left unchecked`);
    // Published one after another (a bulk REST PUT), the key has nothing left either.
    await publish("k");
    assert.equal(spent(), 0);

    await publish("other");
    assert.ok(spent() >= 400, "another key's publish is checked from its own budget");

    clock.advance(PUBLISH_REFILL_MS);
    await publish("k");
    assert.ok(spent() >= 400, "a minute later the key's budget is full again");
  });

  it("the publishes of every key take turns: one path-check request in the pool at once, leaving runs the other thread", async () => {
    const budgets = new PublishBudgets(new ManualClock(0), budgeted.limits.publishMs);
    let inPool = 0;
    let most = 0;
    const counted = {
      ...counting().checks,
      pathProblems: async (paths: string[], timeoutMs?: number) => {
        most = Math.max(most, ++inPool);
        try {
          return await budgeted.pathProblems(paths, timeoutMs);
        } finally {
          inPool--;
        }
      },
    };
    const slow = def({ slow0: manyWords(130_000), fine: "${workflow.input.items[?(@.n > 1)]}" });
    const checks = inTurn(counted);
    // Before, each publish sent two requests at once: three keys' publishes had up to six in the pool (two running, four queued).
    const problems = await Promise.all(["a", "b", "c"].map((key) => definitionProblems(slow, checks, budgets.of(key))));
    assert.equal(most, 1);
    for (const found of problems)
      assert.deepEqual(
        found.map((p) => p.path),
        ["/tasks/0/inputParameters/slow0"],
        "each key's slow path is checked to its limit and refused",
      );
  });
});
