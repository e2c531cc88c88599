// Events of several runs decided in one batch are answered each when its own
// run is done, not when the whole batch is (issue 14: a well-behaved flow went
// 60x slower beside a hostile tenant). A caller waits for the evaluations its
// own run's decision started; before, it also waited for every other run's in
// its batch: a script spinning to its time limit, or a loop going on for
// thousands of iterations, held the polite runs' starts that shared its batch.
// The hostile run's script is held here until the test lets it go, so the
// order is played, not timed: the engine is a replica of its own on the
// harness's database, with the real evaluator behind a gate.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { WorkflowDef } from "@baton/sdk";
import { createLogger } from "@baton/server";
import { startHarness, type Harness } from "../support/harness.js";
import type { EvaluationOutcome, EvaluationRequest } from "../../server/src/decider/evaluation.js";
import { Engine } from "../../server/src/runtime/engine.js";
import { createEngineServices, type EngineServices } from "../../server/src/runtime/services.js";
import { openStore, type Store } from "../../server/src/store/store.js";

const gate = { name: "gate", taskReferenceName: "gate", type: "HUMAN" };

const hostile: WorkflowDef = {
  name: "gate_then_script",
  version: 1,
  schemaVersion: 2,
  tasks: [gate, { name: "s", taskReferenceName: "s", type: "INLINE", inputParameters: { evaluatorType: "javascript", expression: "1 + 1" } }],
};

const polite: WorkflowDef = {
  name: "gate_then_polite",
  version: 1,
  schemaVersion: 2,
  tasks: [
    gate,
    { name: "n", taskReferenceName: "n", type: "NOOP" },
    { name: "v", taskReferenceName: "v", type: "SET_VARIABLE", inputParameters: { done: true } },
  ],
};

let h: Harness;
let store: Store;
let services: EngineServices;
let engine: Engine;
/** Evaluations asked for and not yet let go. */
const held: (() => void)[] = [];

before(async () => {
  h = await startHarness();
  store = openStore(h.databaseUrl);
  const real = await createEngineServices({ scriptThreads: 1, jqThreads: 1, queryThreads: 1 });
  const evaluate = (request: EvaluationRequest) =>
    new Promise<void>((release) => held.push(release)).then((): Promise<EvaluationOutcome> => real.evaluator.evaluate(request));
  services = { ...real, evaluator: { ...real.evaluator, evaluate } };
  engine = new Engine({ store, clock: h.clock, services, log: createLogger("silent") });
});
after(async () => {
  for (const release of held.splice(0)) release();
  await services.evaluator.close();
  await store.close();
  await h.close();
});

async function gateOf(runId: string): Promise<string> {
  const found = await store.getRun(runId, true);
  return found!.tasks.find((t) => t.ref === "gate")!.id;
}

describe("a batch's answers", () => {
  it("a run's event is answered once its own run is decided, while another run's script from the same batch is still held", async () => {
    const hostileRun = (await engine.start({ name: hostile.name, definition: hostile, input: {} })).runId;
    const politeRun = (await engine.start({ name: polite.name, definition: polite, input: {} })).runId;
    const open = (taskId: string) => ({ kind: "signal" as const, taskId, status: "COMPLETED" as const, output: {}, reason: "" });
    const [hostileGate, politeGate] = [await gateOf(hostileRun), await gateOf(politeRun)];

    // Pushed in one turn: one batch, one transaction.
    const answered: string[] = [];
    const hostileAnswer = engine.handle(hostileRun, open(hostileGate)).then(() => answered.push("hostile"));
    const politeAnswer = engine.handle(politeRun, open(politeGate)).then(() => answered.push("polite"));

    await politeAnswer;
    assert.deepEqual(answered, ["polite"], "the polite run's caller was answered only with the hostile run's");
    assert.equal(held.length, 1, "the hostile run's script was asked for and is held");
    assert.equal((await store.getRun(politeRun, false))!.run.status, "COMPLETED");
    const script = (await store.getRun(hostileRun, true))!.tasks.find((t) => t.ref === "s")!;
    assert.equal(script.status, "IN_PROGRESS", "the hostile run's script is still in flight");

    // Its caller, though, waits for its own run's script, as when scripts ran inside the decision.
    held.shift()!();
    await hostileAnswer;
    assert.deepEqual(answered, ["polite", "hostile"]);
    const ended = (await store.getRun(hostileRun, true))!;
    assert.equal(ended.run.status, "COMPLETED", ended.run.reason);
    assert.deepEqual(ended.tasks.find((t) => t.ref === "s")!.output, { result: 2 });
  });
});
