// 100 concurrent starts with one idempotency key, spread over two replicas:
// exactly one run, and every caller is told its id.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import pg from "pg";
import { freshDatabase, stopCluster } from "../support/database.js";
import { scale } from "./lib/config.js";
import { registerFlows } from "./lib/flows.js";
import { figures, report } from "./lib/report.js";
import { startServerProcess, stopServer } from "./lib/server.js";

after(() => stopCluster());

describe("one idempotency key, many concurrent starts", () => {
  it("makes exactly one run and gives every caller its id", async () => {
    const callers = 100;
    const rounds = scale(3, 20);
    const databaseUrl = await freshDatabase();
    const [a, b] = await Promise.all([startServerProcess({ databaseUrl }), startServerProcess({ databaseUrl })]);
    const clients = [new BatonClient({ address: a.address }), new BatonClient({ address: b.address })];
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    let duplicates = 0;
    try {
      await registerFlows(clients[0]!);
      for (let round = 0; round < rounds; round++) {
        const key = `same-key-${round}`;
        const replies = await Promise.all(
          Array.from({ length: callers }, (_, i) =>
            clients[i % 2]!.workflows.startWorkflow({
              name: "fault_child",
              inputJson: JSON.stringify({ x: i }),
              idempotencyKey: key,
              correlationId: "",
              priority: 0,
            }),
          ),
        );
        const ids = new Set(replies.map((r) => r.workflowId));
        const created = replies.filter((r) => r.created).length;
        const { rows } = await db.query("SELECT id FROM baton.runs WHERE idempotency_key = $1", [key]);
        duplicates += Math.max(0, rows.length - 1);
        assert.equal(rows.length, 1, `${rows.length} runs for one key`);
        assert.deepEqual([...ids], [rows[0].id], "every caller gets the one run's id");
        assert.equal(created, 1, `${created} callers were told they created it`);
      }
      report(
        figures("100 concurrent starts, one key", `${rounds} x ${callers} starts over 2 replicas`, "races on one key", {
          runsLost: 0,
          wrongEnd: 0,
          stuck: 0,
          duplicateTransitions: duplicates,
          redeliveries: 0,
        }),
      );
    } finally {
      await db.end();
      clients.forEach((c) => c.close());
      await Promise.all([stopServer(a, "SIGTERM"), stopServer(b, "SIGTERM")]);
    }
  });
});
