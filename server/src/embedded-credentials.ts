// The embedded PostgreSQL's secrets: a random password for its superuser and
// for `baton`, the role Baton connects as (it owns the `baton` database and
// schema, and is not a superuser: it cannot read files or run programs on the
// host). They are made when a data directory is created and kept in a file of
// mode 0600 inside it, so a restart reuses them; no other local user can log
// in. Data directories from before this file existed had the fixed superuser
// password "postgres": their passwords are rotated on first start (the SQL
// that sets the roles up is store/cluster-roles.ts).
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import path from "node:path";

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
