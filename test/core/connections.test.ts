// How many connections a replica opens: the pool size bounds both pools
// together (reads and searches; claims and decision writes), plus one for
// health checks and one that listens for notifications.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import pg from "pg";
import { BatonClient } from "@baton/client";
import { createLogger, serverOptionsFromEnv, startServer } from "@baton/server";
import { freshDatabase, stopCluster } from "../support/database.js";

after(stopCluster);

describe("connections to PostgreSQL", () => {
  it("BATON_DB_POOL_SIZE sets the pool size; anything but a whole number of at least 3 is refused, naming it", () => {
    assert.equal(serverOptionsFromEnv({ BATON_DB_POOL_SIZE: "8" }).poolSize, 8);
    assert.equal(serverOptionsFromEnv({}).poolSize, undefined);
    for (const bad of ["2", "1", "0", "-4", "ten", "2.5"])
      assert.throws(() => serverOptionsFromEnv({ BATON_DB_POOL_SIZE: bad }), /BATON_DB_POOL_SIZE must be a whole number of at least 3/);
  });

  it("BATON_SEARCH_SECONDS sets how long a search's statement may run; anything but a positive whole number is refused, naming it", () => {
    assert.equal(serverOptionsFromEnv({ BATON_SEARCH_SECONDS: "30" }).limits?.searchMs, 30_000);
    assert.equal(serverOptionsFromEnv({}).limits?.searchMs, undefined);
    for (const bad of ["0", "-1", "1.5", "soon"])
      assert.throws(() => serverOptionsFromEnv({ BATON_SEARCH_SECONDS: bad }), /BATON_SEARCH_SECONDS must be a positive whole number of seconds/);
  });

  it("a replica under load holds at most its pool size plus two", async () => {
    const databaseUrl = await freshDatabase();
    const poolSize = 4;
    const server = await startServer({ databaseUrl, port: 0, poolSize, logger: createLogger("silent") });
    const client = new BatonClient({ address: server.address });
    const sampler = new pg.Client({ connectionString: databaseUrl, application_name: "test-sampler" });
    await sampler.connect();
    let most = 0;
    let seen: string[] = [];
    let sampling = true;
    const sampled = (async () => {
      while (sampling) {
        const { rows } = await sampler.query<{ who: string }>(
          "SELECT concat_ws(' ', application_name, backend_start, state, left(query, 80)) AS who FROM pg_stat_activity WHERE datname = current_database() AND backend_type = 'client backend' AND pid <> pg_backend_pid()",
        );
        if (rows.length > most) [most, seen] = [rows.length, rows.map((r) => r.who)];
      }
    })();
    try {
      await client.registerWorkflowDef({ name: "conn_noop", version: 1, tasks: [{ name: "noop", taskReferenceName: "noop", type: "NOOP" }] });
      // Runs (claims and writes) and searches (reads) at once, more than either pool holds.
      await Promise.all(
        Array.from({ length: 40 }, (_, i) =>
          i % 2 === 0 ? client.executeWorkflow("conn_noop", { i }) : client.workflows.searchWorkflows({ name: "conn_noop", pageSize: 5 }),
        ),
      );
    } finally {
      sampling = false;
      await sampled;
      await sampler.end();
      client.close();
      await server.close();
    }
    assert.ok(most <= poolSize + 2, `${most} connections, more than ${poolSize} + 2:\n${seen.join("\n")}`);
    assert.ok(most > poolSize / 2 + 1, `${most} connections: the load filled no more than one pool, so the bound was not tested`);
  });
});
