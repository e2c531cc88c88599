// The event consumer handles the events it takes together: one read of the
// handlers of all their names, the events handled at once (the engine writes
// actions that arrive together in shared transactions), one deletion. Before,
// each event had its own read of handlers and its own deletion, and waited
// for the event before it to be done: about 180 events a second without
// handlers and 95 with a start each, on the loaded machine. Each event's
// actions still run once, in order, a failing one not stopping the rest, and
// two replicas on one database never handle one event twice.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createLogger, startServer, type BatonServer } from "@baton/server";
import { flowOf } from "../support/flows.js";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { statementsDuring } from "../support/statements.js";

let h: Harness;
let db: pg.Client;

before(async () => {
  h = await startHarness({ manualClock: false });
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
  await h.client.registerWorkflowDef(flowOf("on_batch", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
});
after(async () => {
  await db.end();
  await h.close();
});

/** The text of a statement's arguments (a string, or a query config). */
const textOf = (args: unknown[]) => (typeof args[0] === "string" ? args[0] : ((args[0] as { text?: string }).text ?? ""));

/** Puts `count` events named `name` on the bus in one statement (so the consumer finds them all at once), payload {n}, from four publishers. */
async function putEvents(name: string, count: number): Promise<void> {
  await db.query(
    `INSERT INTO baton.events (name, sink, payload, created_at, publisher)
     SELECT $1, $1, jsonb_build_object('n', g), 0, 'publisher-' || (g % 4) FROM generate_series(1, $2) g`,
    [name, count],
  );
}

async function eventsLeft(name: string): Promise<number> {
  return (await db.query<{ n: number }>("SELECT count(*)::int AS n FROM baton.events WHERE name = $1", [name])).rows[0]!.n;
}

describe("the event consumer handles a batch of events together", () => {
  it("reads the handlers and deletes the events once a batch, and carries out every event's actions once, a failing one not stopping the next", async () => {
    const EVENTS = 50; // the consumer's batch
    await h.client.registerEventHandler({
      name: "batch_starter",
      event: "test:batch",
      active: true,
      actions: [
        // Fails (no such run): the start after it still happens.
        { action: "complete_task", complete_task: { workflowId: "not-a-run", taskRefName: "hold" } },
        { action: "start_workflow", start_workflow: { name: "on_batch", input: { n: "${n}" } } },
      ],
    });
    let deletions = 0;
    let handlerReads = 0;
    await statementsDuring(
      async () => {
        await putEvents("test:batch", EVENTS);
        await h.client.publishEvent("test:wake", {});
        await eventually(
          () => eventsLeft("test:batch"),
          (left) => left === 0,
        );
      },
      (args) => {
        const text = textOf(args);
        if (/DELETE FROM baton\.events/.test(text)) deletions++;
        if (/FROM unnest\(.*baton\.event_handlers|FROM baton\.event_handlers WHERE event = \$1 AND active ORDER BY name/s.test(text)) handlerReads++;
      },
    );
    // The 50 events, the waking one, and one the poll may have taken alone: at most three batches.
    assert.ok(deletions <= 3, `${deletions} deletions for ${EVENTS + 1} events`);
    assert.ok(handlerReads <= 3, `${handlerReads} reads of handlers for ${EVENTS + 1} events`);
    const { rows } = await db.query<{ n: string }>("SELECT input->>'n' AS n FROM baton.runs WHERE name = 'on_batch' ORDER BY (input->>'n')::int");
    assert.deepEqual(
      rows.map((r) => Number(r.n)),
      Array.from({ length: EVENTS }, (_, i) => i + 1),
      "one run for each event",
    );
  });

  it("two replicas on one database never handle an event twice", async () => {
    const EVENTS = 400;
    const runId = await h.client.startWorkflow("on_batch", {});
    await h.client.registerEventHandler({
      name: "appender",
      event: "test:append",
      active: true,
      // Not idempotent: an event handled twice appends its n twice.
      actions: [{ action: "update_workflow_variables", update_workflow_variables: { workflowId: runId, variables: { seen: ["${n}"] }, appendArray: true } }],
    });
    let other: BatonServer | undefined;
    try {
      other = await startServer({ databaseUrl: h.databaseUrl, port: 0, logger: createLogger("silent") });
      await putEvents("test:append", EVENTS);
      await h.client.publishEvent("test:wake", {}); // NOTIFY wakes both replicas' consumers
      await eventually(
        () => eventsLeft("test:append"),
        (left) => left === 0,
        120_000,
      );
    } finally {
      await other?.close();
    }
    const run = await h.client.getWorkflow(runId);
    const seen = (run.variables["seen"] as number[]).map(Number).sort((a, b) => a - b);
    assert.deepEqual(
      seen,
      Array.from({ length: EVENTS }, (_, i) => i + 1),
    );
  });
});
