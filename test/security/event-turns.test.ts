// Events are taken in turn by the key that published them (issue 14): the
// consumer took every publisher's events oldest first, one at a time, so one
// key's 20,000 events made another key's event wait 55 s for its handler.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { flowOf } from "../support/flows.js";
import { startSecureServer, type SecureServer } from "./support.js";

/** Events one key left waiting (as a flood of PublishEvent would), written by SQL. */
const WAITING = 1_000;

let s: SecureServer;
let db: pg.Client;

before(async () => {
  s = await startSecureServer();
  db = new pg.Client({ connectionString: s.databaseUrl });
  await db.connect();
  const admin = await s.clientWithNewKey({ role: "admin", name: "admin" });
  await admin.registerWorkflowDef(flowOf("on_event", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
  await admin.registerEventHandler({
    name: "starter",
    event: "test:quiet",
    actions: [{ action: "start_workflow", start_workflow: { name: "on_event", input: {} } }],
    active: true,
  });
});
after(async () => {
  await db.end();
  await s.close();
});

describe("events are taken in turn by their publishing key", () => {
  it("a key's event is handled among the first, however many another key left waiting", async () => {
    const flooder = await s.registry.create({ role: "operator", name: "flooder" });
    const quiet = await s.clientWithNewKey({ role: "operator", name: "quiet" });
    await db.query(
      `INSERT INTO baton.events (name, sink, payload, created_at, publisher)
       SELECT 'test:flood', 'test:flood', '{"n": 1}'::jsonb, 0, $2 FROM generate_series(1, $1)`,
      [WAITING, flooder.record.id],
    );
    await quiet.publishEvent("test:quiet", {});
    let waiting = -1;
    for (let polls = 0; polls < 10_000 && waiting < 0; polls++) {
      const { rows } = await db.query<{ started: boolean; waiting: number }>(
        `SELECT EXISTS (SELECT 1 FROM baton.runs WHERE name = 'on_event') AS started,
                (SELECT count(*)::int FROM baton.events WHERE name = 'test:flood') AS waiting`,
      );
      if (rows[0]!.started) waiting = rows[0]!.waiting;
      else await new Promise((resolve) => setTimeout(resolve, 5));
    }
    assert.ok(waiting >= WAITING - 100, `the quiet key's run started with ${waiting} of the flood's ${WAITING} events left (they went first)`);
  });
});
