// One real PostgreSQL for the whole test run (started by test/run.mjs and
// passed as BATON_TEST_DATABASE_URL), and a fresh database per test file.
// Run alone, a test file starts its own embedded PostgreSQL.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import pg from "pg";
import { startEmbeddedPostgres } from "@baton/server";

let cluster: Promise<{ url: string; stop: () => Promise<void> }> | undefined;

function sharedCluster() {
  if (!cluster) {
    const url = process.env["BATON_TEST_DATABASE_URL"];
    cluster = url
      ? Promise.resolve({ url, stop: async () => {} })
      : // Its superuser: tests make a database each.
        startEmbeddedPostgres({ dataDir: mkdtempSync(path.join(tmpdir(), "baton-test-pg-")) }).then((db) => ({ url: db.adminUrl, stop: db.stop }));
  }
  return cluster;
}

/** Creates an empty database on the shared cluster and returns its URL. */
export async function freshDatabase(): Promise<string> {
  const { url } = await sharedCluster();
  const name = `t_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
  const admin = new pg.Client({ connectionString: url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const u = new URL(url);
  u.pathname = `/${name}`;
  return u.toString();
}

/** Stops a cluster this process started itself (none when shared). */
export async function stopCluster(): Promise<void> {
  if (cluster) await (await cluster).stop();
  cluster = undefined;
}
