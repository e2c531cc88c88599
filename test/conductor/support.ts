// A Baton server with Conductor's REST API on a free port, on a fresh
// database, and small helpers to call it as Conductor's SDKs do.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { BatonClient } from "@baton/client";
import { createLogger, openKeyRegistry, startServer, type BatonServer, type ServerOptions } from "@baton/server";
import { freshDatabase, stopCluster } from "../support/database.js";
import { fixture } from "../conformance/support.js";

export interface RestServer {
  server: BatonServer;
  databaseUrl: string;
  /** http://host:port (Conductor SDKs take `${base}/api`). */
  base: string;
  /** A gRPC client on the same server (the other door). */
  grpc: BatonClient;
  close(): Promise<void>;
}

export async function startRestServer(options: Partial<ServerOptions> = {}): Promise<RestServer> {
  const databaseUrl = await freshDatabase();
  const server = await startServer({
    databaseUrl,
    port: 0,
    conductor: { port: 0 },
    logger: createLogger(process.env["BATON_LOG_LEVEL"] ?? "silent"),
    sweepMs: 50,
    ...options,
  });
  const grpc = new BatonClient({ address: server.address, token: "", tls: false });
  return {
    server,
    databaseUrl,
    base: `http://${server.conductorAddress}`,
    grpc,
    async close() {
      grpc.close();
      await server.close();
      await stopCluster();
    },
  };
}

export interface KeyedRestServer extends RestServer {
  /** The admin key's id and secret, what Conductor's SDKs log in with (its gRPC client, `grpc`, uses the whole key). */
  keyId: string;
  keySecret: string;
}

/** A server that requires keys, and an admin key named `name` made on it. */
export async function startKeyedRestServer(name: string): Promise<KeyedRestServer> {
  const s = await startRestServer({ auth: { mode: "required", cacheMs: 0 } });
  const keys = await openKeyRegistry(s.databaseUrl);
  const { key } = await keys.registry.create({ role: "admin", name });
  await keys.close();
  const [, keyId, keySecret] = /^bk_([a-z0-9]+)_(.+)$/.exec(key)! as unknown as [string, string, string];
  const grpc = new BatonClient({ address: s.server.address, token: key, tls: false });
  return {
    ...s,
    grpc,
    keyId,
    keySecret,
    async close() {
      grpc.close();
      await s.close();
    },
  };
}

/** Conductor's SDKs read their server and key from these before what they are given: blank for a check program, which is given both. */
export const NO_CONDUCTOR_ENV = { CONDUCTOR_SERVER_URL: "", CONDUCTOR_AUTH_KEY: "", CONDUCTOR_AUTH_SECRET: "" };

/** The long run of Conductor's fixture flow simple_workflow_3 as each SDK check drives it: reference, status, retry count of its tasks. */
export const LONG_RUN_TASKS = [
  ["t1", "FAILED", 0],
  ["t1", "COMPLETED", 1],
  ["t2", "COMPLETED", 0],
  ["t3", "COMPLETED", 0],
];

/** A task as a worker was handed it and as it is stored, in Conductor's field names (camelCase). */
type TaskFields = Record<string, any>;

/** The stored fields a check program printed beside those of a task it was handed (`storedSeq`...). */
export function storedBeside(handed: TaskFields): TaskFields {
  return { seq: handed["storedSeq"], scheduledTime: handed["storedScheduledTime"], retryCount: handed["storedRetryCount"] };
}

/**
 * Checks that a task of the long run (`workflowId`, started with
 * `correlationId` and priority 7; its task definitions' response timeout
 * 60 s) carried the run's facts as Conductor's polled Task does, the same as
 * the task `stored`.
 */
export function assertHandedAsConductor(handed: TaskFields, stored: TaskFields, run: { workflowId: string; correlationId: string }): void {
  assert.equal(handed["workflowInstanceId"], run.workflowId);
  assert.equal(handed["workflowType"], "integration_test_wf3");
  assert.equal(handed["correlationId"], run.correlationId);
  assert.equal(handed["workflowPriority"], 7);
  assert.equal(handed["status"], "IN_PROGRESS");
  assert.equal(handed["seq"], stored["seq"]);
  assert.ok(handed["seq"] > 0, "seq is the task's position in the run");
  assert.equal(handed["scheduledTime"], stored["scheduledTime"]);
  assert.ok(handed["scheduledTime"] > 0 && handed["startTime"] >= handed["scheduledTime"], JSON.stringify(handed));
  assert.equal(handed["retryCount"], stored["retryCount"]);
  assert.equal(handed["responseTimeoutSeconds"], 60);
  assert.ok(handed["pollCount"] >= 1);
}

export interface Answer {
  status: number;
  type: string;
  text: string;
  json: any;
}

/** One HTTP call; the body is JSON unless it is a string. */
export async function call(base: string, method: string, route: string, body?: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const response = await fetch(`${base}${route}`, {
    method,
    headers: { ...(body !== undefined ? { "content-type": "application/json" } : {}), ...headers },
    ...(body !== undefined ? { body: typeof body === "string" ? body : JSON.stringify(body) } : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, type: response.headers.get("content-type") ?? "", text, json };
}

/**
 * Runs an SDK's check program (`command` with `args`, then the path of a file
 * holding Conductor's fixture flow simple_workflow_3) with `env` added to
 * this process's, killed after 240 s; what it printed on its `RESULT ` line,
 * parsed. `sdk` names it in the failure when it printed none.
 */
export async function runSdkCheck(sdk: string, command: string, args: string[], env: Record<string, string> = {}): Promise<any> {
  const fixtureFile = path.join(mkdtempSync(path.join(tmpdir(), "baton-sdk-")), "flow.json");
  writeFileSync(fixtureFile, JSON.stringify(fixture("simple_workflow_3_integration_test.json")));
  const { code, out, err } = await new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
    const child = spawn(command, [...args, fixtureFile], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 240_000);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
  const line = out.split("\n").find((l) => l.startsWith("RESULT "));
  assert.ok(line, `the ${sdk} check printed no result (exit ${code}):\n${out.slice(-3000)}\n${err.slice(-5000)}`);
  return JSON.parse(line.slice("RESULT ".length));
}

/** The task definitions Conductor's own test harness registers for its fixtures. */
export const INTEGRATION_TASK_DEFS = Array.from({ length: 5 }, (_, i) => ({
  name: `integration_task_${i}`,
  retryCount: 1,
  retryLogic: "FIXED",
  retryDelaySeconds: 0,
  timeoutSeconds: 120,
  responseTimeoutSeconds: 120,
}));
