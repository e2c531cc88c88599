// A server that requires API keys, on a fresh database, with its log captured,
// and a key (and client) per role.
import { Writable } from "node:stream";
import { pino } from "pino";
import { BatonClient, type ClientOptions } from "@baton/client";
import { grpc } from "@baton/protocol";
import { ManualClock, openKeyRegistry, startServer, type BatonServer, type KeyRegistry, type ServerOptions } from "@baton/server";
import { freshDatabase, stopCluster } from "../support/database.js";

/** Everything the server logged, as text (JSON lines). */
export class LogCapture extends Writable {
  text = "";
  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: () => void): void {
    this.text += chunk.toString();
    callback();
  }
}

export interface SecureServer {
  server: BatonServer;
  databaseUrl: string;
  clock: ManualClock;
  log: LogCapture;
  registry: KeyRegistry;
  /** A client sending `key` (none: no authorization header). */
  client(key?: string, options?: ClientOptions): BatonClient;
  /** A client sending a key made now from `spec` (role, name, task types...). */
  clientWithNewKey(spec: Parameters<KeyRegistry["create"]>[0]): Promise<BatonClient>;
  close(): Promise<void>;
}

export async function startSecureServer(options: Partial<ServerOptions> = {}): Promise<SecureServer> {
  const databaseUrl = await freshDatabase();
  const log = new LogCapture();
  const clock = new ManualClock();
  // No redaction configured on purpose: the server must not hand secrets to its logger at all.
  const logger = pino({ level: "trace", base: { service: "baton" } }, log);
  const server = await startServer({ databaseUrl, port: 0, clock, logger, auth: { mode: "required" }, ...options });
  const keys = await openKeyRegistry(databaseUrl);
  const clients: BatonClient[] = [];
  const client = (key?: string, clientOptions: ClientOptions = {}) => {
    // `token: ""` keeps BATON_TOKEN from the environment out of the test.
    const c = new BatonClient({ address: server.address, token: key ?? "", tls: false, ...clientOptions });
    clients.push(c);
    return c;
  };
  return {
    server,
    databaseUrl,
    clock,
    log,
    registry: keys.registry,
    client,
    clientWithNewKey: async (spec) => client((await keys.registry.create(spec)).key),
    async close() {
      for (const c of clients) c.close();
      await keys.close();
      await server.close();
      await stopCluster();
    },
  };
}

/** The gRPC status code a promise rejects with (fails the test if it resolves). */
export async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    const code = (error as { code?: number }).code;
    return code === undefined ? `not a gRPC error: ${String(error)}` : (grpc.status[code] ?? String(code));
  }
  return "OK";
}

/** A server requiring keys with its console port open, the port's address, and a reader key for it. */
export async function startSecureConsole(): Promise<{ s: SecureServer; url: URL; readerKey: string }> {
  const s = await startSecureServer({ console: { port: 0 } });
  return {
    s,
    url: new URL(s.server.consoleUrl!),
    readerKey: (await s.registry.create({ role: "reader", taskTypes: [], name: "console-reader" })).key,
  };
}
