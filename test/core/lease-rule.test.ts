// The lease deadline is one rule written twice, in TypeScript (decider,
// hand-off at commit) and in SQL (claims, lease extensions): both forms must
// give the same deadline for any task, asked of a real PostgreSQL.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import pg from "pg";
import { leaseDeadline, leaseDeadlineSql } from "../../server/src/rules/lease.js";
import { freshDatabase, stopCluster } from "../support/database.js";

let client: pg.Client;
before(async () => {
  client = new pg.Client({ connectionString: await freshDatabase() });
  await client.connect();
});
after(async () => {
  await client.end();
  await stopCluster();
});

describe("lease deadline", () => {
  it("TypeScript and SQL agree", async () => {
    const sql = `SELECT ${leaseDeadlineSql({ now: "$1::bigint", startedAt: "$2::bigint", leaseSeconds: "$3::int", timeoutSeconds: "$4::int" })} AS deadline`;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 1_000_000, max: 4_000_000_000_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.integer({ min: 0, max: 86_400 }),
        fc.integer({ min: 0, max: 86_400 }),
        fc.boolean(),
        async (now, sinceStart, leaseSeconds, timeoutSeconds, started) => {
          const startedAt = started ? now - sinceStart : 0;
          const { rows } = await client.query(sql, [now, startedAt, leaseSeconds, timeoutSeconds]);
          assert.equal(Number(rows[0].deadline), leaseDeadline({ now, startedAt, leaseSeconds, timeoutSeconds }));
        },
      ),
      { numRuns: 300 },
    );
  });

  it("is the lease from now, cut at the task's own timeout", () => {
    assert.equal(leaseDeadline({ now: 10_000, startedAt: 0, leaseSeconds: 5, timeoutSeconds: 2 }), 15_000);
    assert.equal(leaseDeadline({ now: 10_000, startedAt: 9_000, leaseSeconds: 5, timeoutSeconds: 2 }), 11_000);
    assert.equal(leaseDeadline({ now: 10_000, startedAt: 9_000, leaseSeconds: 5, timeoutSeconds: 0 }), 15_000);
  });
});
