// The embedded PostgreSQL's secrets: a random password for its superuser and
// for `baton`, the role Baton connects as (it owns the `baton` database and
// schema, and is not a superuser: it cannot read files or run programs on the
// host). They are made when a data directory is created and kept in a file of
// mode 0600 inside it, so a restart reuses them; no other local user can log
// in. Data directories from before this file existed had the fixed superuser
// password "postgres": their passwords are rotated on first start.
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";
import type pg from "pg";

export const CREDENTIALS_FILE = "baton-credentials.json";
export const BATON_ROLE = "baton";
/** The superuser password data directories from earlier versions were created with. */
export const OLD_FIXED_PASSWORD = "postgres";

export interface Credentials {
  superuser: { user: string; password: string };
  baton: { user: string; password: string };
}

export function newCredentials(): Credentials {
  const secret = () => randomBytes(24).toString("base64url");
  return { superuser: { user: "postgres", password: secret() }, baton: { user: BATON_ROLE, password: secret() } };
}

export function credentialsPath(dataDir: string): string {
  return path.join(dataDir, CREDENTIALS_FILE);
}

export function readCredentials(dataDir: string): Credentials | undefined {
  const file = credentialsPath(dataDir);
  if (!existsSync(file)) return undefined;
  const parsed = JSON.parse(readFileSync(file, "utf8")) as Partial<Credentials>;
  if (!parsed.superuser?.password || !parsed.baton?.password) throw new Error(`${file} is not a Baton credentials file (superuser and baton passwords)`);
  return parsed as Credentials;
}

/** Writes the file readable by its owner only, whole or not at all. */
export function writeCredentials(dataDir: string, credentials: Credentials): void {
  const file = credentialsPath(dataDir);
  const partial = `${file}.${process.pid}.tmp`;
  writeFileSync(partial, JSON.stringify(credentials, null, 2) + "\n", { mode: 0o600 });
  chmodSync(partial, 0o600);
  renameSync(partial, file);
}

const literal = (text: string) => `'${text.replace(/'/g, "''")}'`;

/** On the superuser's connection to `postgres`: the superuser's password, the baton role, its database. */
export async function setUpRoles(client: pg.Client, credentials: Credentials): Promise<void> {
  await client.query(`ALTER ROLE ${credentials.superuser.user} PASSWORD ${literal(credentials.superuser.password)}`);
  const role = await client.query("SELECT 1 FROM pg_roles WHERE rolname = $1", [BATON_ROLE]);
  const verb = role.rowCount === 0 ? "CREATE" : "ALTER";
  await client.query(
    `${verb} ROLE ${BATON_ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS PASSWORD ${literal(credentials.baton.password)}`,
  );
  const db = await client.query("SELECT 1 FROM pg_database WHERE datname = 'baton'");
  if (db.rowCount === 0) await client.query(`CREATE DATABASE baton OWNER ${BATON_ROLE}`);
  else await client.query(`ALTER DATABASE baton OWNER TO ${BATON_ROLE}`);
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
