// One real PostgreSQL for the whole test run (started by test/run.mjs and
// passed as BATON_TEST_DATABASE_URL, its superuser, and BATON_TEST_ROLE_URL,
// the role Baton connects as), and a fresh database per test file, owned by
// that role: servers in tests connect as production's do, not as a superuser.
// Run alone, a test file starts its own embedded PostgreSQL.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "@baton/server";

interface Cluster {
  /** The superuser, on its `postgres` database. */
  url: string;
  /** Baton's role (not a superuser), when the cluster has one. */
  roleUrl: string | undefined;
  stop: () => Promise<void>;
}

let cluster: Promise<Cluster> | undefined;

function sharedCluster(): Promise<Cluster> {
  if (!cluster) {
    const url = process.env["BATON_TEST_DATABASE_URL"];
    cluster = url
      ? Promise.resolve({ url, roleUrl: process.env["BATON_TEST_ROLE_URL"], stop: async () => {} })
      : startEmbeddedPostgres({ dataDir: mkdtempSync(path.join(tmpdir(), "baton-test-pg-")) }).then((db) => ({
          url: db.adminUrl,
          roleUrl: db.url,
          stop: db.stop,
        }));
  }
  return cluster;
}

/**
 * Creates an empty database on the shared cluster, owned by Baton's role, and
 * returns its URL as that role: what a server is given, and enough for a
 * test's own SQL on Baton's tables (they are the role's). For what only a
 * superuser may do, superuserUrl. A cluster given without a role (only
 * BATON_TEST_DATABASE_URL) has the superuser own and use it, as before.
 */
export async function freshDatabase(): Promise<string> {
  const { url, roleUrl } = await sharedCluster();
  const name = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}${roleUrl ? ` OWNER ${decodeURIComponent(new URL(roleUrl).username)}` : ""}`);
  await admin.end();
  const u = new URL(roleUrl ?? url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** The same database as the cluster's superuser. */
export async function superuserUrl(databaseUrl: string): Promise<string> {
  const u = new URL((await sharedCluster()).url);
  u.pathname = new URL(databaseUrl).pathname;
  return u.toString();
}

/** Stops the cluster if this process started it; a shared one (BATON_TEST_DATABASE_URL) is left running. */
export async function stopCluster(): Promise<void> {
  if (cluster) await (await cluster).stop();
  cluster = undefined;
}
