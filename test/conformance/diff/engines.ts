// The two engines the differential suite runs each case on, both driven by the
// same client over Conductor's REST API: a real Conductor 3.21.14 (its boot jar
// from Maven Central on Java 17, Redis from Debian, both on loopback; started as
// the bench starts its Conductor), and Baton (a real server over a real
// PostgreSQL) serving Conductor's REST API.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { aptBinary, mavenArtifact } from "../../bench/peers/install.js";
import { healthy, startConductor, startRedis } from "../../bench/peers/conductor.js";
import { freePort, runCommand, stopChild, until, which } from "../../bench/lib/util.js";
import { createLogger, startServer } from "@baton/server";
import { freshDatabase, stopCluster } from "../../support/database.js";

export const CONDUCTOR_VERSION = "3.21.14";
const COORDINATES = `org.conductoross:conductor-server:${CONDUCTOR_VERSION}:jar:boot`;
const JAR = `conductor-server-${CONDUCTOR_VERSION}-boot.jar`;

/** A run as both engines report it, before normalising: Conductor's JSON shape. */
export interface RawRun {
  workflowId: string;
  status: string;
  reasonForIncompletion?: string | undefined;
  output: Record<string, unknown>;
  tasks: {
    taskId: string;
    referenceTaskName: string;
    taskType: string;
    status: string;
    reasonForIncompletion?: string | undefined;
    subWorkflowId?: string | undefined;
  }[];
}

export interface Engine {
  name: "conductor" | "baton";
  register(defs: Record<string, unknown>[], taskDefs: Record<string, unknown>[]): Promise<void>;
  start(name: string, input: Record<string, unknown>, correlationId?: string): Promise<string>;
  /** The run once it has ended (or as it is when `timeoutMs` passes). */
  ended(id: string, timeoutMs: number): Promise<RawRun>;
  close(): Promise<void>;
}

const TERMINAL = new Set(["COMPLETED", "FAILED", "TERMINATED", "TIMED_OUT"]);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Conductor's REST API at `base` (".../api"), with `down` to stop whatever serves it. */
function conductorEngine(name: Engine["name"], base: string, down: () => Promise<void>): Engine {
  async function call<T>(method: string, p: string, body?: unknown): Promise<T> {
    const r = await fetch(base + p, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await r.text();
    if (!r.ok) throw new Error(`${name} ${method} ${p}: HTTP ${r.status} ${text.slice(0, 500)}`);
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as T;
    }
  }
  return {
    name,
    async register(defs, taskDefs) {
      if (taskDefs.length > 0) await call("POST", "/metadata/taskdefs", taskDefs);
      await call("PUT", "/metadata/workflow", defs);
    },
    async start(name, input, correlationId) {
      return call<string>("POST", "/workflow", { name, version: 1, input, ...(correlationId ? { correlationId } : {}) });
    },
    async ended(id, timeoutMs) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const run = await call<RawRun>("GET", `/workflow/${id}?includeTasks=true`);
        if (TERMINAL.has(run.status) || Date.now() > deadline) return run;
        await sleep(100);
      }
    },
    close: down,
  };
}

/** A Conductor already running (BATON_DIFF_CONDUCTOR=http://127.0.0.1:port), for working on cases. */
export function runningConductor(url: string): Engine {
  return conductorEngine("conductor", `${url.replace(/\/$/, "")}/api`, async () => {});
}

export async function startConductorEngine(log: (line: string) => void): Promise<Engine> {
  if (!which("java")) throw new Error("java is not installed: Conductor 3.21 needs Java 17 (apt-get install -y openjdk-17-jre-headless)");
  const [redisBinary, jar] = await Promise.all([aptBinary("redis-server", "redis-server", log), mavenArtifact(COORDINATES, JAR, log)]);
  const dir = mkdtempSync(path.join(tmpdir(), "baton-diff-conductor-"));
  const redisPort = await freePort();
  const redis = startRedis(redisBinary, redisPort, dir);
  const httpPort = await freePort();
  const server = startConductor(jar, httpPort, redisPort, dir, "diff");
  const base = `http://127.0.0.1:${httpPort}/api`;
  const down = async () => {
    await stopChild(server.child, "SIGTERM", 20_000);
    await stopChild(redis, "SIGTERM", 10_000);
    rmSync(dir, { recursive: true, force: true });
  };
  log(`conductor ${CONDUCTOR_VERSION}: waiting for 127.0.0.1:${httpPort} (JVM start) ...`);
  const started = Date.now();
  if (!(await until(async () => server.child.exitCode === null && (await healthy(`http://127.0.0.1:${httpPort}`)), 300_000, 1000))) {
    await down();
    throw new Error(`Conductor did not answer on ${base}: ${server.output().slice(-2000)}`);
  }
  log(`conductor ${CONDUCTOR_VERSION}: up in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return conductorEngine("conductor", base, down);
}

/** Baton (a real server over a real PostgreSQL) serving Conductor's REST API on loopback: driven by the same client as Conductor. */
export async function startBatonEngine(): Promise<Engine> {
  const server = await startServer({
    databaseUrl: await freshDatabase(),
    port: 0,
    host: "127.0.0.1",
    conductor: { port: 0, host: "127.0.0.1" },
    logger: createLogger(process.env["BATON_LOG_LEVEL"] ?? "silent"),
  });
  if (!server.conductorAddress) throw new Error("the Baton server did not start its Conductor REST API");
  return conductorEngine("baton", `http://${server.conductorAddress}/api`, async () => {
    await server.close();
    await stopCluster();
  });
}

/** The Java version, for the report ("?" when it cannot be read). */
export async function javaVersion(): Promise<string> {
  const r = await runCommand("java", ["-version"], { timeoutMs: 30_000 });
  return /version "([^"]+)"/.exec(r.stderr + r.stdout)?.[1] ?? "?";
}
