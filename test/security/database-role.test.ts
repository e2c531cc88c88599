// The database role Baton connects as, probed (issue 14, point 7): servers in
// tests connect as it, as in production (before, as the cluster's superuser),
// and a fresh role made by Baton's own role SQL can run a server on the
// database it owns and nothing beyond: no programs or files on the host, no
// roles or databases, no other schema's or database's secrets.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { createLogger, ensureBatonRole, startServer } from "@baton/server";
import { superuserUrl } from "../support/database.js";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

async function withClient<T>(url: string, fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

/** The SQLSTATE a statement fails with, or "OK". */
async function outcome(client: pg.Client, sql: string): Promise<string> {
  try {
    await client.query(sql);
    return "OK";
  } catch (error) {
    return (error as { code?: string }).code ?? String(error);
  }
}

const DENIED = "42501"; // insufficient_privilege

describe("the database role Baton connects as", () => {
  let h: Harness;
  let admin: string; // the superuser, on the harness's database
  before(async () => {
    h = await startHarness({ manualClock: false });
    admin = await superuserUrl(h.databaseUrl);
  });
  after(() => h.close());

  it("is what test servers connect as: not a superuser", async () => {
    const name = new URL(h.databaseUrl).pathname.slice(1);
    const users = await withClient(admin, async (c) => {
      const { rows } = await c.query<{ user: string; rolsuper: boolean }>(
        `SELECT DISTINCT a.usename AS user, r.rolsuper FROM pg_stat_activity a JOIN pg_roles r ON r.rolname = a.usename
         WHERE a.datname = $1 AND a.pid <> pg_backend_pid()`,
        [name],
      );
      return rows;
    });
    assert.ok(users.length > 0, "the server holds connections");
    assert.deepEqual(
      users.map((u) => u.rolsuper),
      users.map(() => false),
      `the server connects as ${users.map((u) => u.user).join(", ")}`,
    );
  });

  describe("a fresh role, made as Baton makes its own", () => {
    const role = `probe_${randomBytes(4).toString("hex")}`;
    const password = randomBytes(18).toString("base64url");
    let database: string;
    let url: string; // the fresh role on its own database
    before(async () => {
      await withClient(admin, async (c) => {
        await ensureBatonRole(c, role, password);
        await c.query(`CREATE DATABASE ${role} OWNER ${role}`);
      });
      database = role;
      const u = new URL(admin);
      u.username = role;
      u.password = password;
      u.pathname = `/${database}`;
      url = u.toString();
      // A secret of someone else's in the role's own database.
      await withClient(await superuserUrl(url), async (c) => {
        await c.query("CREATE SCHEMA vault");
        await c.query("CREATE TABLE vault.tokens (secret text)");
        await c.query("INSERT INTO vault.tokens VALUES ('s3cret')");
      });
    });
    after(async () => {
      await withClient(admin, async (c) => {
        await c.query(`DROP DATABASE IF EXISTS ${database} WITH (FORCE)`);
        await c.query(`DROP ROLE IF EXISTS ${role}`);
      });
    });

    it("runs a server on its database: migrations, a flow to its end", async () => {
      const server = await startServer({ databaseUrl: url, port: 0, logger: createLogger("silent") });
      try {
        const { BatonClient } = await import("@baton/client");
        const client = new BatonClient({ address: server.address });
        await client.registerWorkflowDef(flowOf("probe", [{ name: "n", taskReferenceName: "n", type: "NOOP" }]));
        assert.equal((await client.executeWorkflow("probe", {})).status, "COMPLETED");
        client.close();
      } finally {
        await server.close();
      }
      const owners = await withClient(url, async (c) => (await c.query("SELECT DISTINCT tableowner AS owner FROM pg_tables WHERE schemaname = 'baton'")).rows);
      assert.deepEqual(owners, [{ owner: role }]);
    });

    it("cannot reach the host, make roles or databases, become another role, or read others' secrets", async () => {
      const probes: Record<string, string> = {
        "run a program": "COPY (SELECT 1) TO PROGRAM 'id'",
        "read a file": "COPY vault.tokens FROM '/etc/passwd'",
        "write a file": "COPY (SELECT 1) TO '/tmp/baton-probe'",
        "read a file by function": "SELECT pg_read_file('/etc/passwd')",
        "import a file as a large object": "SELECT lo_import('/etc/passwd')",
        "create a role": "CREATE ROLE probe_escape SUPERUSER",
        "create a database": "CREATE DATABASE probe_escape",
        "change the server's settings": "ALTER SYSTEM SET log_statement = 'all'",
        "become the superuser": "SET ROLE postgres",
        "read password hashes": "SELECT rolpassword FROM pg_authid",
        "read another schema's table": "SELECT secret FROM vault.tokens",
        "end a superuser's connection": "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = 'postgres'",
      };
      // A superuser's connection open meanwhile, to be ended if it could be.
      const seen = await withClient(admin, () =>
        withClient(url, async (c) => {
          const out: Record<string, string> = {};
          for (const [what, sql] of Object.entries(probes)) out[what] = await outcome(c, sql);
          return out;
        }),
      );
      assert.deepEqual(seen, Object.fromEntries(Object.keys(probes).map((what) => [what, DENIED])));
    });

    it("cannot connect to the embedded cluster's own databases", async () => {
      // PostgreSQL lets every role connect to every database unless CONNECT is revoked from PUBLIC.
      const seen: Record<string, string> = {};
      for (const database of ["baton", "postgres", "template1"]) {
        const other = new URL(url);
        other.pathname = `/${database}`;
        seen[database] = await withClient(other.toString(), async () => "OK").catch((error: { code?: string }) => error.code ?? String(error));
      }
      assert.deepEqual(seen, { baton: DENIED, postgres: DENIED, template1: DENIED });
    });

    it("cannot read another database's keys", async () => {
      // A database a tool made (here, the test runner) keeps PostgreSQL's default CONNECT for every role; Baton's schema in it is its owner's alone.
      const other = new URL(url);
      other.pathname = new URL(h.databaseUrl).pathname;
      assert.equal(await withClient(other.toString(), (c) => outcome(c, "SELECT * FROM baton.api_keys")), DENIED);
    });
  });
});
