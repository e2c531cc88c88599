// Where a test environment keeps its state: a fresh database per environment,
// on a PostgreSQL given by URL (BATON_TEST_DATABASE_URL, as `npm test` sets it,
// or an option), else on an embedded PostgreSQL started in a temp directory
// and shared by the environments open in this process.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres, type EmbeddedDatabase } from "@baton/server";

export interface TestDatabase {
  /** The database the server uses. */
  url: string;
  /** Drops the database if it was made here, and stops the embedded PostgreSQL when no environment uses it. */
  release(): Promise<void>;
}

export interface DatabaseOptions {
  /** A PostgreSQL to use instead of the embedded one (or BATON_TEST_DATABASE_URL). */
  databaseUrl?: string;
  /** Make an empty database on that server and drop it at the end (default true); false uses the URL's database as it is. */
  freshDatabase?: boolean;
}

interface Embedded {
  cluster: Promise<EmbeddedDatabase>;
  dataDir: string;
  users: number;
}

let embedded: Embedded | undefined;

async function acquireEmbedded(): Promise<{ url: string; adminUrl?: string; release: () => Promise<void> }> {
  if (!embedded) {
    const dataDir = mkdtempSync(path.join(tmpdir(), "baton-testing-pg-"));
    embedded = { dataDir, users: 0, cluster: startEmbeddedPostgres({ dataDir }) };
    embedded.cluster.catch(() => {});
  }
  const mine = embedded;
  mine.users++;
  let cluster: EmbeddedDatabase;
  try {
    cluster = await mine.cluster;
  } catch (error) {
    mine.users--;
    if (embedded === mine) embedded = undefined;
    rmSync(mine.dataDir, { recursive: true, force: true });
    throw error;
  }
  let released = false;
  return {
    url: cluster.url,
    // The superuser: fresh databases are made with it.
    adminUrl: cluster.adminUrl,
    async release() {
      if (released) return;
      released = true;
      if (--mine.users > 0) return;
      if (embedded === mine) embedded = undefined;
      await cluster.stop();
      rmSync(mine.dataDir, { recursive: true, force: true });
    },
  };
}

async function admin<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url, application_name: "baton-testing" });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end().catch(() => {});
  }
}

export async function acquireDatabase(options: DatabaseOptions = {}): Promise<TestDatabase> {
  const given = options.databaseUrl ?? (process.env["BATON_TEST_DATABASE_URL"] || undefined);
  const server: { url: string; adminUrl?: string; release: () => Promise<void> } = given ? { url: given, release: async () => {} } : await acquireEmbedded();
  if (options.freshDatabase === false) return { url: server.url, release: server.release };

  // The server connects as the role Baton connects as in production when there is one (the embedded
  // cluster's, or BATON_TEST_ROLE_URL beside BATON_TEST_DATABASE_URL as `npm test` sets them): the database is its.
  const role = server.adminUrl ? server.url : options.databaseUrl ? undefined : process.env["BATON_TEST_ROLE_URL"] || undefined;
  const name = `baton_testing_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  try {
    await admin(server.adminUrl ?? server.url, (c) => c.query(`CREATE DATABASE ${name}${role ? ` OWNER ${decodeURIComponent(new URL(role).username)}` : ""}`));
  } catch (error) {
    await server.release();
    throw error;
  }
  const url = new URL(role ?? server.adminUrl ?? server.url);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    async release() {
      try {
        await admin(server.adminUrl ?? server.url, (c) => c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
      } catch {
        // Best effort: a database left behind on a test server is harmless.
      }
      await server.release();
    },
  };
}
