// A dynamic fork makes at most 1,000 branches a decision, and the rest in its
// continuations; a long loop goes on past its 100 iterations a decision in
// continuations too. Both lanes take one batch at a time, and they are apart:
// in one lane, a fork's next branches waited for a loop's batch to be written
// (and then shared the next one with it). Here the loop's continuation is held
// on its run's row, locked in another transaction, so the order is played,
// not timed: the engine runs on a database of its own, with the real evaluator
// behind a gate, and no other process sweeps it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { WorkflowDef } from "@baton/sdk";
import { createLogger, ManualClock } from "@baton/server";
import pg from "pg";
import { freshDatabase, stopCluster } from "../support/database.js";
import type { EvaluationOutcome, EvaluationRequest } from "../../server/src/decider/evaluation.js";
import { Engine } from "../../server/src/runtime/engine.js";
import { createEngineServices, type EngineServices } from "../../server/src/runtime/services.js";
import { openStore, type Store } from "../../server/src/store/store.js";

/** A loop of 300 NOOP iterations: it goes on in continuations after its first 100. */
const loop: WorkflowDef = {
  name: "long_loop",
  version: 1,
  schemaVersion: 2,
  tasks: [
    {
      name: "loop",
      taskReferenceName: "loop",
      type: "DO_WHILE",
      inputParameters: { items: "${workflow.input.items}" },
      loopOver: [{ name: "n", taskReferenceName: "n", type: "NOOP" }],
    },
  ],
};

/** A dynamic fork of its input's items: past 1,000 of them, its branches go on in continuations. */
const fork: WorkflowDef = {
  name: "wide_fork",
  version: 1,
  schemaVersion: 2,
  tasks: [
    {
      name: "fork",
      taskReferenceName: "fork",
      type: "FORK_JOIN_DYNAMIC",
      inputParameters: { forkTaskName: "branch", forkTaskInputs: "${workflow.input.items}" },
    },
    { name: "join", taskReferenceName: "join", type: "JOIN" },
  ],
};

const BRANCHES = 2_500;

let databaseUrl: string;
let store: Store;
let services: EngineServices;
let engine: Engine;
/** Evaluations asked for while `holding`, not yet let go. */
const held: (() => void)[] = [];
let holding = true;

before(async () => {
  databaseUrl = await freshDatabase();
  store = openStore(databaseUrl);
  await store.migrate();
  const real = await createEngineServices({ scriptThreads: 1, jqThreads: 1, queryThreads: 1 });
  const evaluate = (request: EvaluationRequest): Promise<EvaluationOutcome> =>
    holding ? new Promise<void>((release) => held.push(release)).then(() => real.evaluator.evaluate(request)) : real.evaluator.evaluate(request);
  services = { ...real, evaluator: { ...real.evaluator, evaluate } };
  engine = new Engine({ store, clock: new ManualClock(), services, log: createLogger("silent"), limits: { maxConcurrentStarts: 256 } });
});
after(async () => {
  for (const release of held.splice(0)) release();
  await services.evaluator.close();
  await store.close();
  await stopCluster();
});

const turn = () => new Promise<void>((resolve) => setTimeout(resolve, 1));
const items = (n: number) => Array.from({ length: n }, (_, i) => ({ i }));

describe("a wide fork's continuations", () => {
  it("make its branches while a loop's continuation waits for its run", async () => {
    // The loop's first 100 iterations are decided with its start; its continuation is held at the gate.
    const looping = (await engine.start({ name: loop.name, definition: loop, input: { items: items(300) } })).runId;
    assert.equal(held.length, 1);
    holding = false;
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      await db.query("BEGIN");
      await db.query("SELECT 1 FROM baton.runs WHERE id = $1 FOR UPDATE", [looping]);
      // Let go, the loop's continuation takes its lane's one batch, which waits for the lock.
      held.shift()!();
      const queue = engine["queue"] as unknown as { laneInFlight: Map<string, number> };
      while (![...queue.laneInFlight.values()].some((n) => n > 0)) await turn();
      // The start is answered once the fork's own continuations are decided (or after 10 s: before, they waited for the loop's).
      const forking = (await engine.start({ name: fork.name, definition: fork, input: { items: items(BRANCHES) } })).runId;
      const run = await store.getRun(forking, true);
      assert.equal(run!.tasks.filter((t) => t.defName === "branch").length, BRANCHES, "every branch made while the loop waits");
      assert.ok(run!.tasks.some((t) => t.ref === "join"));
      await db.query("COMMIT");
    } finally {
      await db.end();
    }
  });
});
