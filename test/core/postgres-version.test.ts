// The PostgreSQL releases Baton runs on: the server refuses an older one at
// start, before it migrates anything, naming the release found, the oldest it
// runs on and what to do. The suite's PostgreSQL passes; CI also runs this file
// on the oldest supported release (.ci/run), where it passes at the boundary.
// An older release cannot be had here, so the refusal is seen by asking for a
// newer one than the suite's.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import pg from "pg";
import { createLogger, startServer } from "@baton/server";
import { checkPostgresVersion, MINIMUM_POSTGRES_VERSION } from "../../server/src/store/postgres-version.js";
import { freshDatabase, stopCluster } from "../support/database.js";
import { statementsDuring } from "../support/statements.js";

after(stopCluster);

async function withClient<T>(databaseUrl: string, fn: (db: pg.Client) => Promise<T>): Promise<T> {
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  try {
    return await fn(db);
  } finally {
    await db.end();
  }
}

describe("the PostgreSQL release", () => {
  it("the suite's PostgreSQL is one Baton runs on; a server starting checks the release before it migrates", async () => {
    const databaseUrl = await freshDatabase();
    const found = await withClient(databaseUrl, async (db) => Number((await db.query("SHOW server_version_num")).rows[0].server_version_num));
    assert.ok(found >= MINIMUM_POSTGRES_VERSION, `the tests run on ${found}, below the minimum ${MINIMUM_POSTGRES_VERSION}`);
    await withClient(databaseUrl, (db) => checkPostgresVersion(db));
    const sent: string[] = [];
    await statementsDuring(
      async () => {
        const server = await startServer({ databaseUrl, port: 0, logger: createLogger("silent") });
        await server.close();
      },
      (args) => sent.push(typeof args[0] === "string" ? args[0] : String((args[0] as { text?: string }).text)),
    );
    const checked = sent.findIndex((text) => text.includes("server_version_num"));
    const migrating = sent.findIndex((text) => text.includes("pg_advisory_xact_lock"));
    assert.ok(checked >= 0 && migrating > checked, `the release is checked (${checked}) before the migrations begin (${migrating})`);
  });

  it("a release older than the minimum is refused, naming it, the minimum and what to do", async () => {
    const databaseUrl = await freshDatabase();
    await withClient(databaseUrl, async (db) => {
      const { server_version: version, server_version_num: num } = (
        await db.query("SELECT current_setting('server_version') AS server_version, current_setting('server_version_num')::int AS server_version_num")
      ).rows[0];
      const newer = Math.floor(num / 10000) + 1;
      await assert.rejects(checkPostgresVersion(db, newer * 10000), (error: Error) => {
        assert.ok(error.message.includes(`PostgreSQL ${version} is older than Baton runs on`), error.message);
        assert.ok(error.message.includes(`needs PostgreSQL ${newer} or later`), error.message);
        assert.match(error.message, /Upgrade the database .* or point BATON_DATABASE_URL at a PostgreSQL/);
        return true;
      });
    });
  });
});
