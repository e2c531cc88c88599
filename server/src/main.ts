#!/usr/bin/env node
// `baton-server`: one server process on the PostgreSQL at BATON_DATABASE_URL.
// For deployments and tests that run several replicas; `baton dev` adds the
// embedded database on top.
import { startServer } from "./server.js";
import { serverOptionsFromEnv } from "./server-options.js";
import { createLogger } from "./logger.js";

const url = process.env["BATON_DATABASE_URL"];
if (!url) {
  console.error(
    "BATON_DATABASE_URL is required: the PostgreSQL (15 or later) to run on, e.g. postgresql://baton:PASSWORD@db.internal:5432/baton (`baton dev` runs one of its own)",
  );
  process.exit(2);
}
const log = createLogger();
let fromEnv;
try {
  // BATON_HOST/PORT, BATON_TLS_*, BATON_METRICS_PORT, BATON_AUTH (see serverOptionsFromEnv).
  fromEnv = serverOptionsFromEnv(process.env);
} catch (error) {
  console.error((error as Error).message);
  process.exit(2);
}
let server;
try {
  server = await startServer({
    host: "127.0.0.1",
    port: 7233,
    ...fromEnv,
    databaseUrl: url,
    logger: log,
  });
} catch (error) {
  console.error(`baton-server: cannot start: ${startFailure(error)}`);
  if (process.env["BATON_LOG_LEVEL"] === "debug") console.error((error as Error).stack);
  process.exit(1);
}
// One line on stdout for supervisors and tests to wait on.
console.log(`listening ${server.address}`);
let closing = false;
const shutdown = () => {
  if (closing) return;
  closing = true;
  void server.close().then(() => process.exit(0));
};
process.on("SIGINT", shutdown);
process.on("SIGTERM", shutdown);

/** Why the server did not start, naming the setting to check where one is at fault (a stack trace named none). */
function startFailure(error: unknown): string {
  const { message, code, syscall } = error as { message?: string; code?: unknown; syscall?: unknown };
  const text = message ?? String(error);
  if (syscall === "connect" || syscall === "getaddrinfo" || (typeof code === "string" && /^(28|3D)/.test(code)))
    return `${text} (PostgreSQL, at BATON_DATABASE_URL)`;
  if (syscall === "listen") return `${text} (BATON_HOST, BATON_PORT and the other ports' settings)`;
  return text;
}
