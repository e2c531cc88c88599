// Multi-host connection strings: the server finds the node that answers (and
// takes writes) among several, the way libpq's target_session_attrs does.
import assert from "node:assert/strict";
import { createServer } from "node:net";
import { after, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { createLogger, startServer } from "@baton/server";
import { parseHosts } from "../../server/src/store/hosts.js";
import { freshDatabase, stopCluster } from "../support/database.js";

after(stopCluster);

describe("multi-host connection strings", () => {
  it("splits hosts and drops target_session_attrs, which node-postgres cannot pass on", () => {
    assert.deepEqual(parseHosts("postgresql://u:p@h1:5432,h2:5433/db?target_session_attrs=read-write&sslmode=disable"), {
      urls: ["postgresql://u:p@h1:5432/db?sslmode=disable", "postgresql://u:p@h2:5433/db?sslmode=disable"],
      readWrite: true,
    });
    assert.deepEqual(parseHosts("postgres://u:p@127.0.0.1:5432/baton"), { urls: ["postgres://u:p@127.0.0.1:5432/baton"], readWrite: false });
  });

  it("runs on the node that answers when the first one is down", async () => {
    const live = new URL(await freshDatabase());
    // A port with nothing listening: take one, then free it.
    const deadPort = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const port = (s.address() as { port: number }).port;
        s.close(() => resolve(port));
      });
    });
    const url = `postgresql://${live.username}:${live.password}@127.0.0.1:${deadPort},127.0.0.1:${live.port}${live.pathname}?target_session_attrs=read-write`;
    const server = await startServer({ databaseUrl: url, port: 0, logger: createLogger("silent") });
    const client = new BatonClient({ address: server.address });
    try {
      await client.registerWorkflowDef({ name: "multi_host", version: 1, tasks: [{ name: "noop", taskReferenceName: "noop", type: "NOOP" }] });
      const run = await client.executeWorkflow("multi_host", {});
      assert.equal(run.status, "COMPLETED");
      assert.equal(server.store.locator.current.includes(`:${live.port}/`), true);
    } finally {
      client.close();
      await server.close();
    }
  });
});
