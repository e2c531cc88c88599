// A DO_WHILE's condition is bound what it can read of the loop's output, not
// every iteration's entry (issue 14, point 2: loop bookkeeping O(1) per
// iteration). Bound whole, the entries made each iteration's condition cost
// as much as all the iterations before it: JSON text for the sandbox, parsed
// again inside it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WorkflowDef } from "@baton/sdk";
import type { Effect } from "../../src/decider/decider.js";
import { flowDef, ManualRun, Sim } from "./sim.js";

type Evaluate = Extract<Effect, { kind: "evaluate" }>;

const loopOf = (loopCondition: string, inputParameters: Record<string, unknown> = {}): WorkflowDef =>
  flowDef([
    {
      name: "loop",
      taskReferenceName: "loop",
      type: "DO_WHILE",
      inputParameters,
      loopCondition,
      loopOver: [{ name: "n", taskReferenceName: "n", type: "NOOP" }],
    },
  ]);

/** Runs the loop `iterations` times, answering each condition itself; the bytes of JSON each condition was bound. */
function boundBytes(def: WorkflowDef, iterations: number): number[] {
  const m = new ManualRun(def);
  const sizes: number[] = [];
  for (let i = 1; ; i++) {
    const asked = m.asked().find((e): e is Evaluate => e.request.kind === "script" || e.request.kind === "continue");
    assert.ok(asked, `iteration ${i} asks for its condition`);
    const request = asked.request;
    if (request.kind !== "script") {
      m.answerEvaluation(asked, true);
      i--;
      continue;
    }
    sizes.push(JSON.stringify(request.bindings).length);
    m.answerEvaluation(asked, i < iterations);
    if (i >= iterations) break;
  }
  assert.equal(m.run.status, "COMPLETED");
  return sizes;
}

describe("a loop's condition", () => {
  it("reading the iteration is bound the same bytes at iteration 300 as at iteration 2", () => {
    const sizes = boundBytes(loopOf("if ($.loop['iteration'] < $.value) { true; } else { false; }", { value: 1000 }), 300);
    assert.equal(sizes.length, 300);
    // Before: the whole output, `{"1":{"n":{}},...,"iteration":300}`, 5 KB at 300 iterations and growing.
    const early = Math.max(...sizes.slice(1, 10));
    const late = Math.max(...sizes.slice(-10));
    assert.ok(late <= early + 4, `bound ${early} bytes early, ${late} late`);
  });

  it("reads the same values: the iteration, an entry it names, its inputs and the iteration's outputs", () => {
    const sim = new Sim(loopOf("$.loop['iteration'] < $.max && $.loop['1'].n !== undefined && $.n !== undefined", { max: 4 }));
    assert.equal(sim.run.status, "COMPLETED");
    assert.equal(sim.latest("loop").output["iteration"], 4);
    const bound = new ManualRun(loopOf("$.loop['iteration'] < 4 && $.loop['1'].n !== undefined")).asked()[0]!.request;
    assert.deepEqual(bound, {
      kind: "script",
      source: "$.loop['iteration'] < 4 && $.loop['1'].n !== undefined",
      bindings: { loop: { iteration: 1, "1": { n: {} } }, n: {} },
    });
  });

  it("that reads the loop's output some other way is bound all of it, as before", () => {
    const sim = new Sim(loopOf("Object.keys($.loop).length < 5"));
    assert.equal(sim.run.status, "COMPLETED");
    // Keys "1".."4" and "iteration": 5 keys after the fourth iteration.
    assert.equal(sim.latest("loop").output["iteration"], 4);
    const sizes = boundBytes(loopOf("Object.keys($.loop).length < 1000"), 50);
    assert.ok(sizes.at(-1)! > sizes[1]! + 400, "the whole output, growing with the iterations");
  });
});
