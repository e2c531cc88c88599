#!/usr/bin/env node
// `baton-server`: one server process on the PostgreSQL at BATON_DATABASE_URL.
// For deployments and tests that run several replicas; `baton dev` adds the
// embedded database on top.
import { startServer } from "./server.js";
import { serverOptionsFromEnv } from "./server-options.js";
import { createLogger } from "./logger.js";

const url = process.env["BATON_DATABASE_URL"];
if (!url) {
  console.error("BATON_DATABASE_URL is required");
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
const server = await startServer({
  host: "127.0.0.1",
  port: 7233,
  ...fromEnv,
  databaseUrl: url,
  logger: log,
});
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
