// A Baton server with Conductor's REST API on a free port, on a fresh
// database, and small helpers to call it as Conductor's SDKs do.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { BatonClient } from "@baton/client";
import { createLogger, startServer, type BatonServer, type ServerOptions } from "@baton/server";
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
