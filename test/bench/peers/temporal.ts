// The Temporal dev server (CLI v1.5.1, built with `go install` into the cache)
// on loopback, backed by a SQLite file (not the in-memory default, so its
// state is on disk like Baton's), and its TypeScript SDK from npm installed
// into the cache — not into the repo, so `npm ci` for tests stays lean.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { freePort, sleep, stopChild, track, until } from "../lib/util.js";
import type { PeerContext, PeerUp } from "./index.js";
import { goInstall, npmInstall } from "./install.js";

export const TEMPORAL_CLI = { module: "github.com/temporalio/cli/cmd/temporal", version: "v1.5.1" };
export const TEMPORAL_SDK_VERSION = "1.24.0";

/** Workflow code, bundled by the SDK's worker from the cache directory (where @temporalio/workflow resolves). */
const WORKFLOWS = `
import { proxyActivities, condition, defineSignal, setHandler } from "@temporalio/workflow";
const { bench_a, bench_b, bench_c, bench_item } = proxyActivities({ startToCloseTimeout: "5 minutes", retry: { maximumAttempts: 1 } });
export async function seq3(n) {
  const a = await bench_a(n);
  const b = await bench_b(a);
  return await bench_c(b);
}
// Temporal refuses more than 2,000 pending activities per workflow: fan out in windows of 1,000.
export async function fanout(count) {
  const window = 1000;
  let next = 0;
  const lane = async () => { while (next < count) { const i = next++; await bench_item(i); } };
  await Promise.all(Array.from({ length: Math.min(window, count) }, lane));
  return count;
}
export const release = defineSignal("release");
export async function waiting() {
  let go = false;
  setHandler(release, () => { go = true; });
  await condition(() => go);
}
`;

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
  const [binary, modulesDir] = await Promise.all([
    goInstall(TEMPORAL_CLI.module, TEMPORAL_CLI.version, "temporal", log),
    npmInstall(
      "npm-temporal",
      Object.fromEntries(["client", "worker", "workflow", "activity"].map((p) => [`@temporalio/${p}`, TEMPORAL_SDK_VERSION])),
      log,
    ),
  ]);
  writeFileSync(path.join(modulesDir, "workflows.js"), WORKFLOWS);
  const dataDir = mkdtempSync(path.join(tmpdir(), "baton-bench-temporal-"));
  const [port, uiPort, httpPort, metricsPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
  const child = track(spawn(
    binary,
    [
      "server", "start-dev",
      "--ip", "127.0.0.1",
      "--port", String(port),
      "--ui-port", String(uiPort),
      "--http-port", String(httpPort),
      "--metrics-port", String(metricsPort),
      "--headless",
      "--db-filename", path.join(dataDir, "temporal.db"),
      "--log-level", "error",
    ],
    { stdio: ["ignore", "pipe", "pipe"] },
  ));
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
    endpoint: { address: `127.0.0.1:${port}`, workflowsPath: path.join(modulesDir, "workflows.js") },
    serverPids: [child.pid!],
    facts: {
      version: `temporal CLI ${TEMPORAL_CLI.version} (server start-dev), TS SDK ${TEMPORAL_SDK_VERSION}`,
      store: "SQLite file (--db-filename), the dev server's own settings",
    },
    async down() {
      await stopChild(child, "SIGTERM", 15_000);
      await exited;
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
