// /healthz and /readyz through a database outage. This file runs its own
// PostgreSQL (stopping the shared one would break every other test), stops it,
// and starts it again on the same port and data.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createLogger, startEmbeddedPostgres, startServer, type BatonServer, type EmbeddedDatabase } from "@baton/server";
import { freePort } from "../faults/lib/server.js";
import { eventually } from "../support/harness.js";

let dataDir: string;
let port: number;
let db: EmbeddedDatabase | undefined;
let server: BatonServer;

async function get(p: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`http://${server.metricsAddress}${p}`);
  const text = await response.text();
  return { status: response.status, body: p === "/metrics" ? { text } : (JSON.parse(text) as Record<string, unknown>) };
}

before(async () => {
  dataDir = mkdtempSync(path.join(tmpdir(), "baton-health-pg-"));
  port = await freePort();
  db = await startEmbeddedPostgres({ dataDir, port });
  server = await startServer({ databaseUrl: db.url, port: 0, metrics: { port: 0 }, logger: createLogger(process.env["BATON_LOG_LEVEL"] ?? "silent") });
});

after(async () => {
  await server?.close().catch(() => {});
  await db?.stop().catch(() => {});
  rmSync(dataDir, { recursive: true, force: true });
});

describe("/healthz and /readyz", () => {
  it("is ready with the database up, migrations applied and gRPC bound", async () => {
    const ready = await get("/readyz");
    assert.equal(ready.status, 200);
    assert.deepEqual(ready.body["checks"], { database: { ok: true }, migrations: { ok: true }, grpc: { ok: true } });
    assert.equal((await get("/healthz")).status, 200);
  });

  it("is not ready while the schema is behind this server", async () => {
    const client = new pg.Client({ connectionString: db!.url });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: number; name: string }>(
        "DELETE FROM baton.migrations WHERE version = (SELECT max(version) FROM baton.migrations) RETURNING version, name",
      );
      const removed = rows[0]!;
      const behind = await get("/readyz");
      assert.equal(behind.status, 503);
      assert.match(JSON.stringify(behind.body), /schema at version/);
      await client.query("INSERT INTO baton.migrations (version, name) VALUES ($1, $2)", [removed.version, removed.name]);
      assert.equal((await get("/readyz")).status, 200);
    } finally {
      await client.end();
    }
  });

  it("is 503 while the database is down, alive all the same, and ready again once it is back", async () => {
    await db!.stop();
    db = undefined;
    const down = await eventually(
      () => get("/readyz"),
      (r) => r.status === 503,
      30_000,
    );
    assert.equal((down.body["checks"] as Record<string, { ok: boolean }>)["database"]?.ok, false);
    assert.equal((await get("/healthz")).status, 200, "the process itself is fine");
    const metrics = await get("/metrics");
    assert.match(String(metrics.body["text"]), /^baton_db_errors_total\{code="[^"]+"\} [1-9]/m, "the outage shows as database errors");

    db = await startEmbeddedPostgres({ dataDir, port });
    const up = await eventually(
      () => get("/readyz"),
      (r) => r.status === 200,
      60_000,
    );
    assert.deepEqual(up.body["checks"], { database: { ok: true }, migrations: { ok: true }, grpc: { ok: true } });
  });
});
