// What a template with filters is resolved against in the queries pool: the
// context entries it reads, as JSON. A path that does not say which entries
// (`$..x`, a bare `@root`) reads all of them; each is its fields with the
// payloads shared, not copied on the deciding thread (the pool's post makes
// the one copy), but a loop's output, which later decisions change in place.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Resolver } from "../../src/decider/resolver.js";
import { TaskBook } from "../../src/decider/task-book.js";
import { toJson } from "../../src/expressions/json.js";
import { flowDef, simple, Sim } from "./sim.js";

const def = flowDef([
  simple("a"),
  {
    name: "loop",
    taskReferenceName: "loop",
    type: "DO_WHILE",
    loopCondition: "$.loop['iteration'] < 3",
    loopOver: [{ name: "n", taskReferenceName: "n", type: "NOOP" }],
  },
  simple("b"),
]);

function runWithLoop() {
  const sim = new Sim(def, new Map(), { v: 1 });
  sim.finish("a", "COMPLETED", { v: 1, big: "x".repeat(10_000) });
  assert.equal(sim.latest("loop").status, "COMPLETED");
  const book = new TaskBook(sim.tasks);
  return { sim, book, resolver: new Resolver(sim.run, book, def) };
}

describe("a template's snapshot for the queries pool", () => {
  it("of a path that reads every entry shares the tasks' payloads instead of copying them, and copies a loop's output", () => {
    const { sim, book, resolver } = runWithLoop();
    const snapshot = resolver.snapshot({ x: "${$..v[?(@ > 0)]}" }) as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(snapshot), ["workflow", ...book.names()]);
    const a = sim.latest("a");
    assert.equal(snapshot["a"]!["output"], a.output, "a's output is shared");
    assert.equal(snapshot["workflow"]!["input"], sim.run.input, "the run's input is shared");
    const loop = sim.latest("loop");
    assert.notEqual(snapshot["loop"]!["output"], loop.output, "a loop's output changes in place: it is copied");
    assert.deepEqual(snapshot["loop"]!["output"], loop.output);
    // The same JSON as a copy of every entry.
    assert.deepEqual(snapshot, toJson(snapshot));
    assert.deepEqual(snapshot["a"], { ...(toJson(snapshot["a"]) as object), output: { v: 1, big: "x".repeat(10_000) } });
    assert.equal(snapshot["n__2"]!["iteration"], 2);
  });

  it("of a filter that reads `@root.<name>` holds only the entries named", () => {
    const { book, resolver } = runWithLoop();
    assert.deepEqual(Object.keys(resolver.snapshot({ x: "${a.output[?(@ == @root.workflow.input.v)]}" })).sort(), ["a", "workflow"]);
    assert.deepEqual(Object.keys(resolver.snapshot({ x: "${a.output[?(@ == @root['loop'].output.iteration)]}" })).sort(), ["a", "loop"]);
    // A bare `@root` may read anything.
    assert.equal(Object.keys(resolver.snapshot({ x: "${a.output[?(@root..v)]}" })).length, [...book.names()].length + 1);
    assert.equal(Object.keys(resolver.snapshot({ x: "${a.output[?(@ == @root)]}" })).length, [...book.names()].length + 1);
    assert.equal(Object.keys(resolver.snapshot({ x: "${a.output[?(@ == _$_root.b)]}" })).length, [...book.names()].length + 1);
    assert.equal(Object.keys(resolver.snapshot({ x: "${a.output[?(@ == @root[@.k])]}" })).length, [...book.names()].length + 1);
  });
});
