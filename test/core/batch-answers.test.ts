// Events of several runs decided in one batch are answered each when its own
// run is done, not when the whole batch is (issue 14: a well-behaved flow went
// 60x slower beside a hostile tenant). A caller waits for what its own run's
// decision started: its evaluations, and its outbox items (a child run it
// starts, and what that child's start waits for). Before, it also waited for
// every other run's in its batch, and for the runs the batch's freed
// concurrency slots admitted: a script spinning to its time limit, a loop
// going on for thousands of iterations, another run's child whose first
// script spins, or a queued run's first script held the polite runs' starts
// that shared its batch. Scripts are held here until the test lets them go,
// so the order is played, not timed: the engine runs on a database of its
// own, with the real evaluator behind a gate, and no other process sweeps it.
import assert from "node:assert/strict";
import { after, before, beforeEach, describe, it } from "node:test";
import type { WorkflowDef } from "@baton/sdk";
import { createLogger, ManualClock } from "@baton/server";
import pg from "pg";
import { freshDatabase, stopCluster } from "../support/database.js";
import type { EvaluationOutcome, EvaluationRequest } from "../../server/src/decider/evaluation.js";
import type { RunEvent } from "../../server/src/decider/decider.js";
import { Engine } from "../../server/src/runtime/engine.js";
import { createEngineServices, type EngineServices } from "../../server/src/runtime/services.js";
import { openStore, type Store } from "../../server/src/store/store.js";

const gate = { name: "gate", taskReferenceName: "gate", type: "HUMAN" };
const script = { name: "s", taskReferenceName: "s", type: "INLINE", inputParameters: { evaluatorType: "javascript", expression: "1 + 1" } };

const hostile: WorkflowDef = { name: "gate_then_script", version: 1, schemaVersion: 2, tasks: [gate, script] };

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

/** A start's whole work: no gate, no script. */
const politeStart: WorkflowDef = { name: "polite_start", version: 1, schemaVersion: 2, tasks: [{ name: "n", taskReferenceName: "n", type: "NOOP" }] };

const spinningChild: WorkflowDef = { name: "spinning_child", version: 1, schemaVersion: 2, tasks: [script] };

/** Its gate opened, it starts a child whose first task is a script. */
const parent: WorkflowDef = {
  name: "gate_then_child",
  version: 1,
  schemaVersion: 2,
  tasks: [
    gate,
    { name: "child", taskReferenceName: "child", type: "SUB_WORKFLOW", subWorkflowParam: { name: spinningChild.name, workflowDefinition: spinningChild } },
  ],
};

/** One run at a time per key: a script, then a gate; the next run waits for the slot, and begins with the script. */
const limited: WorkflowDef = {
  name: "one_at_a_time",
  version: 1,
  schemaVersion: 2,
  tasks: [script, gate],
  rateLimitConfig: { rateLimitKey: "${workflow.input.key}", concurrentExecLimit: 1 },
};

let databaseUrl: string;
let store: Store;
let services: EngineServices;
let engine: Engine;
/** Evaluations asked for and not yet let go. */
const held: (() => void)[] = [];
/** What happened, in order: "asked" when a script is asked for, and each caller's name when it is answered. */
const seen: string[] = [];

before(async () => {
  databaseUrl = await freshDatabase();
  store = openStore(databaseUrl);
  await store.migrate();
  const real = await createEngineServices({ scriptThreads: 1, jqThreads: 1, queryThreads: 1 });
  const evaluate = (request: EvaluationRequest) =>
    new Promise<void>((release) => {
      seen.push("asked");
      held.push(release);
    }).then((): Promise<EvaluationOutcome> => real.evaluator.evaluate(request));
  services = { ...real, evaluator: { ...real.evaluator, evaluate } };
  engine = new Engine({ store, clock: new ManualClock(), services, log: createLogger("silent"), limits: { maxConcurrentStarts: 256, maxBatchesInFlight: 1 } });
});
// Each test starts with nothing held and nothing seen (one that failed may have left a script held).
beforeEach(() => {
  for (const release of held.splice(0)) release();
  seen.length = 0;
});
after(async () => {
  for (const release of held.splice(0)) release();
  await services.evaluator.close();
  await store.close();
  await stopCluster();
});

async function taskOf(runId: string, ref: string) {
  const found = await store.getRun(runId, true);
  return found!.tasks.find((t) => t.ref === ref)!;
}

const open = (taskId: string): RunEvent => ({ kind: "signal", taskId, status: "COMPLETED", output: {}, reason: "" });
const answered = (name: string) => () => void seen.push(name);
const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 1));

/**
 * Runs `push` while the engine's one batch slot is held by a run locked in
 * another transaction, so that the `items` it pushes wait and go in one batch.
 */
async function inOneBatch(items: number, push: () => void): Promise<void> {
  const blocker = (await engine.start({ name: polite.name, definition: polite, input: {} })).runId;
  const queue = (engine as unknown as { queue: { size: number } }).queue;
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    await db.query("BEGIN");
    await db.query("SELECT 1 FROM baton.runs WHERE id = $1 FOR UPDATE", [blocker]);
    const blocked = engine.handle(blocker, { kind: "tick" });
    // The tick's batch takes the slot before anything is pushed: pushed in the same turn, the items
    // went in the tick's batch, and a start (which resolves its definition first) in one of its own.
    while (queue.size > 0) await turn();
    push();
    // The starts resolve their definitions first: wait until every item is in the queue.
    while (queue.size < items) await turn();
    await db.query("COMMIT");
    await blocked;
  } finally {
    await db.end();
  }
}

describe("a batch's answers", () => {
  it("a run's event is answered once its own run is decided, while another run's script from the same batch is still held", async () => {
    const hostileRun = (await engine.start({ name: hostile.name, definition: hostile, input: {} })).runId;
    const politeRun = (await engine.start({ name: polite.name, definition: polite, input: {} })).runId;
    const [hostileGate, politeGate] = [(await taskOf(hostileRun, "gate")).id, (await taskOf(politeRun, "gate")).id];

    // Pushed in one turn: one batch, one transaction.
    const hostileAnswer = engine.handle(hostileRun, open(hostileGate)).then(answered("hostile"));
    const politeAnswer = engine.handle(politeRun, open(politeGate)).then(answered("polite"));

    await politeAnswer;
    assert.deepEqual(seen, ["asked", "polite"], "the polite run's caller was answered only with the hostile run's");
    assert.equal((await store.getRun(politeRun, false))!.run.status, "COMPLETED");
    assert.equal((await taskOf(hostileRun, "s")).status, "IN_PROGRESS", "the hostile run's script is still in flight");

    // Its caller, though, waits for its own run's script, as when scripts ran inside the decision.
    held.shift()!();
    await hostileAnswer;
    assert.deepEqual(seen, ["asked", "polite", "hostile"]);
    const ended = (await store.getRun(hostileRun, true))!;
    assert.equal(ended.run.status, "COMPLETED", ended.run.reason);
    assert.deepEqual(ended.tasks.find((t) => t.ref === "s")!.output, { result: 2 });
  });

  it("a start is answered without waiting for the child another run of its batch started, whose first script is held", async () => {
    const parentRun = (await engine.start({ name: parent.name, definition: parent, input: {} })).runId;
    const parentGate = (await taskOf(parentRun, "gate")).id;
    seen.length = 0;
    let hostileAnswer: Promise<void> | undefined;
    let politeAnswer: Promise<void> | undefined;
    let politeRun = "";
    await inOneBatch(2, () => {
      hostileAnswer = engine.handle(parentRun, open(parentGate)).then(answered("parent"));
      politeAnswer = engine.start({ name: politeStart.name, definition: politeStart, input: {} }).then(({ runId }) => {
        politeRun = runId;
        seen.push("polite");
      });
    });

    await politeAnswer;
    // Before, it waited for the batch's outbox: the parent's child was started, and its script asked for, first.
    assert.deepEqual(seen, ["polite"], "the polite start was answered only after another run's child");
    assert.equal((await store.getRun(politeRun, false))!.run.status, "COMPLETED");

    // The parent's caller waits for its own run's outbox: its child exists, and that child's start waited for its script.
    while (held.length === 0) await turn();
    assert.deepEqual(seen, ["polite", "asked"]);
    const childId = (await taskOf(parentRun, "child")).subWorkflowId!;
    assert.equal((await taskOf(childId, "s")).status, "IN_PROGRESS", "the child's script is held");
    held.shift()!();
    await hostileAnswer;
    assert.deepEqual(seen, ["polite", "asked", "parent"]);
    assert.deepEqual((await taskOf(childId, "s")).output, { result: 2 });
  });

  it("a start is answered without waiting for the runs that slots freed in its batch admitted, and admitting does not wait for their scripts", async () => {
    // One running run per key, at its gate, and one waiting behind it, on each of two keys.
    const running: string[] = [];
    const waiting: string[] = [];
    for (const key of ["a", "b"]) {
      const first = engine.start({ name: limited.name, definition: limited, input: { key } });
      while (held.length === 0) await turn();
      held.shift()!();
      running.push((await first).runId);
      waiting.push((await engine.start({ name: limited.name, definition: limited, input: { key } })).runId);
    }
    for (const runId of waiting) assert.equal((await store.getRun(runId, true))!.tasks.length, 0, "queued behind its key's running run");
    const gates = await Promise.all(running.map(async (runId) => (await taskOf(runId, "gate")).id));

    seen.length = 0;
    const answers: Promise<void>[] = [];
    await inOneBatch(3, () => {
      // The running runs end, each freeing its key's slot, in the polite start's batch.
      answers.push(engine.handle(running[0]!, open(gates[0]!)).then(answered("ended a")));
      answers.push(engine.handle(running[1]!, open(gates[1]!)).then(answered("ended b")));
      answers.push(engine.start({ name: politeStart.name, definition: politeStart, input: {} }).then(answered("polite")));
    });
    await Promise.all(answers);
    // Before, every caller of the batch waited while the admitted runs started, and for their first scripts.
    assert.deepEqual(seen.slice().sort(), ["ended a", "ended b", "polite"], "answered only after an admitted run's script was asked for");

    // Both waiting runs are admitted, one after the other, while the first one's script is still held.
    while (held.length < 2) await turn();
    for (const runId of waiting) assert.equal((await taskOf(runId, "s")).status, "IN_PROGRESS");
    for (const release of held.splice(0)) release();
  });
});
