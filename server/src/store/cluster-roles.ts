// The roles of the embedded PostgreSQL, set up on the superuser's
// connections when it starts (embedded.ts): the superuser's password, the
// `baton` role Baton connects as (no superuser: it cannot read files or run
// programs on the host), its database, who may connect to the cluster's
// databases, and its ownership of the baton schema.
import type pg from "pg";
import { BATON_ROLE, type Credentials } from "../embedded-credentials.js";

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** On the superuser's connection to `postgres`: the superuser's password, the baton role, its database. */
export async function setUpRoles(client: pg.Client, credentials: Credentials): Promise<void> {
  await client.query(`ALTER ROLE ${credentials.superuser.user} PASSWORD ${literal(credentials.superuser.password)}`);
  await ensureBatonRole(client, BATON_ROLE, credentials.baton.password);
  const db = await client.query("SELECT 1 FROM pg_database WHERE datname = 'baton'");
  if (db.rowCount === 0) await client.query(`CREATE DATABASE baton OWNER ${BATON_ROLE}`);
  else await client.query(`ALTER DATABASE baton OWNER TO ${BATON_ROLE}`);
  // PostgreSQL lets every role connect to every database (CONNECT granted to PUBLIC): here only
  // a database's owner may (baton to baton; the superuser, to all), whatever roles an operator adds.
  for (const database of ["baton", "postgres", "template1"]) await client.query(`REVOKE CONNECT ON DATABASE ${database} FROM PUBLIC`);
}

/**
 * Creates (or resets) `role` as Baton connects: it may log in and nothing
 * more; what it can do comes from owning its database. Tests make their
 * roles with it too, so they probe the role production runs as.
 */
export async function ensureBatonRole(client: pg.Client, role: string, password: string): Promise<void> {
  if (!/^[a-z_][a-z0-9_]*$/.test(role)) throw new Error(`${role} is not a plain role name (lower-case letters, digits, _)`);
  const found = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [role]);
  const verb = found.rowCount === 0 ? "CREATE" : "ALTER";
  await client.query(`${verb} ROLE ${role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${literal(password)}`);
}

/**
 * On the superuser's connection to `baton`: hands the baton schema and what
 * is in it to the baton role (data directories from earlier versions made
 * them as the superuser). Does nothing once they are the role's.
 */
export async function handOverSchema(client: pg.Client): Promise<void> {
  await client.query(`
    DO $$
    DECLARE r record;
    BEGIN
      IF NOT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = 'baton') THEN RETURN; END IF;
      EXECUTE 'ALTER SCHEMA baton OWNER TO ${BATON_ROLE}';
      -- Tables (their indexes and column sequences follow), views.
      FOR r IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'baton' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') AND c.relowner <> '${BATON_ROLE}'::regrole LOOP
        EXECUTE format('ALTER TABLE %s OWNER TO ${BATON_ROLE}', r.name);
      END LOOP;
      FOR r IN SELECT c.oid::regclass AS name FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = 'baton' AND c.relkind = 'S' AND c.relowner <> '${BATON_ROLE}'::regrole LOOP
        EXECUTE format('ALTER SEQUENCE %s OWNER TO ${BATON_ROLE}', r.name);
      END LOOP;
      FOR r IN SELECT p.oid::regprocedure AS name FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
               WHERE n.nspname = 'baton' AND p.proowner <> '${BATON_ROLE}'::regrole LOOP
        EXECUTE format('ALTER FUNCTION %s OWNER TO ${BATON_ROLE}', r.name);
      END LOOP;
    END
    $$;
  `);
}
