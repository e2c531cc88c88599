// A Baton server with Conductor's REST API on a free port, on a fresh
// database, and small helpers to call it as Conductor's SDKs do.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { BatonClient } from "@baton/client";
import { createLogger, startServer, type BatonServer, type ServerOptions } from "@baton/server";
import { freshDatabase, stopCluster } from "../support/database.js";
import { FIXTURES } from "../conformance/support.js";

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
      if (!process.env["BATON_TEST_DATABASE_URL"]) await stopCluster();
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

/** Conductor's fixture flows (the checkout's sibling shared/ folder, or BATON_FIXTURES). */
export function conductorFixture(file: string): Record<string, any> {
  const dir = existsSync(FIXTURES) ? FIXTURES : (process.env["BATON_FIXTURES"] ?? FIXTURES);
  return JSON.parse(readFileSync(path.join(dir, file), "utf8")) as Record<string, any>;
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
