// A server started on a database that a newer server has migrated (a
// rollback, or an older pod restarting mid-rollout). Each applied migration's
// row records the least schema version a server must know to run on it; a
// migration this server does not know that older servers cannot run beside
// refuses the start, naming it and what to do, and changes nothing. One they
// can run beside lets the server start and is logged. The newer server's
// migrations are injected here: real server, real PostgreSQL.
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, describe, it } from "node:test";
import pg from "pg";
import { createLogger, startServer } from "@baton/server";
import { freshDatabase, stopCluster } from "../support/database.js";
import { LOOP_ITERATIONS_MIGRATION } from "../../server/src/store/loop-iterations.js";
import { MIGRATIONS, migrate, type Migration } from "../../server/src/store/migrations.js";

after(() => stopCluster());

const KNOWN = MIGRATIONS.length;

/** A database a newer server migrated: every migration this one knows, then `newer`. */
async function migratedByNewer(newer: Migration[]): Promise<{ databaseUrl: string; db: pg.Client }> {
  const databaseUrl = await freshDatabase();
  const db = new pg.Client({ connectionString: databaseUrl });
  await db.connect();
  assert.equal((await migrate(db, [...MIGRATIONS, ...newer])).applied, KNOWN + newer.length);
  return { databaseUrl, db };
}

/** Starts this version's server on the database: the error it refused with, or undefined once it served (and closed). */
async function start(databaseUrl: string, lines: string[] = []): Promise<Error | undefined> {
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(chunk.toString());
      callback();
    },
  });
  return startServer({ databaseUrl, port: 0, logger: createLogger("warn", destination) }).then(
    async (server) => {
      await server.close();
      return undefined;
    },
    (error: Error) => error,
  );
}

describe("a server on a database migrated past what it knows", () => {
  it("refuses to start when a migration it does not know needs newer servers, naming it and what to do", async () => {
    const { databaseUrl, db } = await migratedByNewer([
      { name: "a newer server's compatible change", sql: "CREATE TABLE baton.newer_compatible (x int)" },
      {
        name: "payloads move to a table of their own",
        sql: "CREATE TABLE baton.newer_payloads (x int)",
        olderReplicasStop: "earlier servers read payloads from the task rows",
      },
    ]);
    try {
      const recorded = await db.query("SELECT version, needs_version, needs_why FROM baton.migrations WHERE version > $1 ORDER BY version", [KNOWN]);
      assert.deepEqual(recorded.rows, [
        { version: KNOWN + 1, needs_version: null, needs_why: null },
        { version: KNOWN + 2, needs_version: KNOWN + 2, needs_why: "earlier servers read payloads from the task rows" },
      ]);
      const before = await db.query("SELECT count(*)::int AS n FROM baton.replicas");

      const refused = await start(databaseUrl);
      assert.ok(refused, "the server started on a database it would misread");
      assert.equal(
        refused.message,
        `This database was migrated by a newer Baton: it is at schema version ${KNOWN + 2} and this server knows only ${KNOWN}; ` +
          `migration ${KNOWN + 2} "payloads move to a table of their own" needs a server that knows schema version ${KNOWN + 2} or later ` +
          `(earlier servers read payloads from the task rows). This server would misread its data, so it does not start. ` +
          `Run a Baton whose schema version is ${KNOWN + 2} or later (the version that migrated the database, or newer) on it, ` +
          `or restore the database from a backup taken before that migration to go back to this version.`,
      );
      const afterwards = await db.query("SELECT count(*)::int AS n FROM baton.replicas");
      assert.deepEqual(afterwards.rows, before.rows, "the refused server registered no replica");
      const versions = await db.query("SELECT max(version) AS v FROM baton.migrations");
      assert.equal(versions.rows[0].v, KNOWN + 2, "nothing changed");
    } finally {
      await db.end();
    }
  });

  it("starts when the migrations it does not know leave what it reads alone, and logs them", async () => {
    const { databaseUrl, db } = await migratedByNewer([
      { name: "an index older servers need not know", sql: "CREATE INDEX newer_index ON baton.runs (updated_at)" },
    ]);
    try {
      const lines: string[] = [];
      assert.equal(await start(databaseUrl, lines), undefined);
      const logged = lines.map((l) => JSON.parse(l) as { msg: string; migrations?: string[] }).find((l) => l.migrations);
      assert.ok(logged, `no log line names the unknown migration: ${lines.join("")}`);
      assert.deepEqual(logged.migrations, [`${KNOWN + 1} an index older servers need not know`]);
      assert.match(logged.msg, /newer Baton applied that this server does not know/);
    } finally {
      await db.end();
    }
  });

  it("records what servers each migration needs on a database migrated before the record was kept", async () => {
    const databaseUrl = await freshDatabase();
    const db = new pg.Client({ connectionString: databaseUrl });
    await db.connect();
    try {
      await migrate(db);
      // As a server before this record left it: no columns for it.
      await db.query("ALTER TABLE baton.migrations DROP COLUMN needs_version, DROP COLUMN needs_why");
      assert.equal((await migrate(db)).applied, 0);
      const { rows } = await db.query("SELECT version FROM baton.migrations WHERE needs_version = version ORDER BY version");
      assert.deepEqual(
        rows.map((r: { version: number }) => r.version),
        MIGRATIONS.flatMap((m, i) => (m.olderReplicasStop ? [i + 1] : [])),
      );
      // ...and so a server that does not know that migration is refused.
      await assert.rejects(migrate(db, MIGRATIONS.slice(0, MIGRATIONS.indexOf(LOOP_ITERATIONS_MIGRATION))), /loop iterations/);
    } finally {
      await db.end();
    }
  });
});
