// Wires one server process: store -> engine -> dispatcher/timers -> gRPC.
import * as grpc from "@grpc/grpc-js";
import pg from "pg";
import { MetadataService, TaskService, WorkflowService, serviceDefinition, serviceHandlers } from "@baton/protocol";
import { systemClock, type Clock } from "./clock.js";
import { Dispatcher } from "./dispatch/dispatcher.js";
import { RunWaiters } from "./dispatch/run-waiters.js";
import { DEFAULT_LIMITS, type Limits } from "./limits.js";
import { createLogger, type Logger } from "./logger.js";
import { Engine } from "./runtime/engine.js";
import { HttpTasks, LOOPBACK_HOSTS } from "./runtime/http-tasks.js";
import { Timers } from "./runtime/timers.js";
import { createSystemTaskServices } from "./runtime/services.js";
import { metadataService } from "./service/metadata.js";
import { taskService } from "./service/tasks.js";
import { workflowService } from "./service/workflows.js";
import { Store } from "./store/store.js";

export interface ServerOptions {
  databaseUrl: string;
  /** Address to bind; loopback by default. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  clock?: Clock;
  logger?: Logger;
  limits?: Partial<Limits>;
  /** Hosts HTTP tasks may call (default: loopback only). */
  httpAllowedHosts?: string[];
  poolSize?: number;
  /** Real-time period of the timer sweep and the dispatch safety net. */
  sweepMs?: number;
}

export interface BatonServer {
  /** host:port the gRPC server listens on. */
  address: string;
  port: number;
  engine: Engine;
  clock: Clock;
  /** Fires every due timer and pending cross-run effect now (for tests that move the clock). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<BatonServer> {
  const log = options.logger ?? createLogger();
  const clock = options.clock ?? systemClock;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const store = new Store(options.databaseUrl, options.poolSize ?? 10);
  await store.migrate();

  const engine = new Engine(store, clock, await createSystemTaskServices(), log);
  const dispatcher = new Dispatcher(store, clock, log, options.sweepMs ?? 250);
  const waiters = new RunWaiters();
  const timers = new Timers(engine, clock, log, options.sweepMs ?? 200);
  const http = new HttpTasks(engine, { allowedHosts: options.httpAllowedHosts ?? LOOPBACK_HOSTS, timeoutMs: 30_000 }, log);
  engine.hooks = {
    tasksReady: (types) => types.forEach((t) => dispatcher.wake(t)),
    runEnded: (runId) => waiters.ended(runId),
    runAsync: (task) => http.run(task),
  };
  const listener = new Listener(options.databaseUrl, log, (channel, payload) => {
    if (channel === "baton_tasks") payload.split("\n").forEach((t) => dispatcher.wake(t));
    else if (channel === "baton_runs") waiters.ended(payload);
    else if (channel === "baton_outbox") void timers.sweep();
  });
  await listener.start();

  const server = new grpc.Server({
    "grpc.max_receive_message_length": limits.definitionBytes + 1024 * 1024,
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_permit_without_calls": 1,
  });
  const onError = (method: string, error: unknown) => log.error({ err: error, method }, "request failed");
  server.addService(serviceDefinition(MetadataService), serviceHandlers(MetadataService, metadataService(engine, limits), onError));
  server.addService(serviceDefinition(WorkflowService), serviceHandlers(WorkflowService, workflowService(engine, waiters, limits), onError));
  server.addService(serviceDefinition(TaskService), serviceHandlers(TaskService, taskService(engine, dispatcher, limits), onError));
  const host = options.host ?? "127.0.0.1";
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host.includes(":") ? `[${host}]` : host}:${options.port ?? 0}`, grpc.ServerCredentials.createInsecure(), (error, bound) =>
      error ? reject(error) : resolve(bound),
    ),
  );
  dispatcher.start();
  timers.start();
  log.info({ host, port }, "baton server listening");

  return {
    address: `${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    engine,
    clock,
    settle: () => timers.sweep(),
    async close() {
      timers.stop();
      dispatcher.stop();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
      await listener.stop();
      await store.close();
    },
  };
}

/** LISTEN on a dedicated connection, reconnecting with backoff when it drops. */
class Listener {
  private client: pg.Client | undefined;
  private stopped = false;
  private delay = 100;

  constructor(
    private readonly url: string,
    private readonly log: Logger,
    private readonly onNotify: (channel: string, payload: string) => void,
  ) {}

  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.url, application_name: "baton-listener" });
    client.on("notification", (n) => this.onNotify(n.channel, n.payload ?? ""));
    client.on("error", (error) => {
      this.log.warn({ err: error }, "notification connection lost; reconnecting");
      void client.end().catch(() => {});
      this.reconnect();
    });
    await client.connect();
    await client.query("LISTEN baton_tasks; LISTEN baton_runs; LISTEN baton_outbox");
    this.client = client;
    this.delay = 100;
  }

  private reconnect(): void {
    if (this.stopped) return;
    this.client = undefined;
    setTimeout(() => {
      if (this.stopped) return;
      this.start().catch(() => {
        this.delay = Math.min(this.delay * 2, 5000);
        this.reconnect();
      });
    }, this.delay).unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.client?.end().catch(() => {});
  }
}
