// Temporal: the dev server of the Temporal CLI (v1.5.1, built with `go install`
// into the cache) on loopback, its state in a SQLite file, and workers in Go
// (`peers/temporal-worker`, built with `go build` into the cache against
// go.temporal.io/sdk), as Temporal's own load tests run them. The driver starts
// workflows with the TypeScript client from npm (installed into the cache, not
// the repo, so `npm ci` for tests stays lean).
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { freePort, sleep, stopChild, track, until } from "../lib/util.js";
import type { PeerContext, PeerUp } from "./index.js";
import { goBuild, goInstall, npmInstall } from "./install.js";

export const TEMPORAL_CLI = { module: "github.com/temporalio/cli/cmd/temporal", version: "v1.5.1" };
export const TEMPORAL_GO_SDK = "v1.51.0";
export const TEMPORAL_TS_CLIENT = "1.24.0";
const WORKER_MODULE = path.join(path.dirname(fileURLToPath(import.meta.url)), "temporal-worker");

/**
 * The dev server's settings beyond its defaults: SQLite in WAL mode with
 * synchronous=FULL (every commit fsynced, as Baton's PostgreSQL commits are;
 * the default rollback journal is as durable but serialises readers behind
 * each write).
 */
export const SQLITE_PRAGMAS = ["journal_mode=wal", "synchronous=full"];

function portOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

export async function bringUpTemporal(ctx: PeerContext): Promise<PeerUp> {
  const log = ctx.options.log;
  // One after another: two Go builds at once on a small machine only slow each other.
  const binary = await goInstall(TEMPORAL_CLI.module, TEMPORAL_CLI.version, "temporal", log);
  const workerBinary = await goBuild(WORKER_MODULE, "temporal-bench-worker", log);
  const modulesDir = await npmInstall("npm-temporal-client", { "@temporalio/client": TEMPORAL_TS_CLIENT }, log);
  const dataDir = mkdtempSync(path.join(tmpdir(), "baton-bench-temporal-"));
  const [port, uiPort, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const args = [
    "server", "start-dev",
    "--ip", "127.0.0.1",
    "--port", String(port),
    "--ui-port", String(uiPort),
    "--http-port", String(httpPort),
    "--metrics-port", String(metricsPort),
    "--headless",
    "--db-filename", path.join(dataDir, "temporal.db"),
    ...SQLITE_PRAGMAS.flatMap((p) => ["--sqlite-pragma", p]),
    "--log-level", "error",
  ];
  const child = track(spawn(binary, args, { stdio: ["ignore", "pipe", "pipe"] }));
  let output = "";
  child.stdout.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-5000)));
  child.stderr.on("data", (d: Buffer) => (output = (output + d.toString()).slice(-5000)));
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const up = await until(async () => child.exitCode === null && (await portOpen(port)), 90_000, 250);
  if (!up) {
    await stopChild(child, "SIGKILL");
    rmSync(dataDir, { recursive: true, force: true });
    throw new Error(`temporal server start-dev did not listen on 127.0.0.1:${port}: ${output.slice(-1500)}`);
  }
  await sleep(1000);
  return {
    modulesDir,
    endpoint: { address: `127.0.0.1:${port}`, workerBinary },
    serverPids: [child.pid!],
    facts: {
      version: `temporal CLI ${TEMPORAL_CLI.version} (server start-dev), Go SDK ${TEMPORAL_GO_SDK} workers, TS client ${TEMPORAL_TS_CLIENT}`,
      store: `SQLite file inside the server process (--db-filename; ${SQLITE_PRAGMAS.join(", ")}): its CPU counts as the server's`,
      serverArgs: args.filter((a) => !/^\d+$/.test(a)).join(" "),
    },
    async down() {
      await stopChild(child, "SIGTERM", 15_000);
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
