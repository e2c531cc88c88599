// Wires one server process: store -> engine -> dispatcher/timers -> gRPC.
import * as grpc from "@grpc/grpc-js";
import {
  EventService,
  MetadataService,
  RetentionService,
  RouteService,
  ScheduleService,
  SessionService,
  TaskService,
  WorkflowService,
  serviceDefinition,
  serviceHandlers,
} from "@baton/protocol";
import { Authenticator } from "./auth/authenticator.js";
import { guard, methodsOf } from "./auth/guard.js";
import { keyServiceDefinition, keyServiceHandlers, keyServiceMethods } from "./auth/key-service.js";
import { KeyRegistry } from "./auth/keys.js";
import { OpenCalls } from "./auth/open-calls.js";
import { plaintextKeyListeners, plaintextKeysRefusal, type Listener } from "./auth/plaintext.js";
import { TaskTypes } from "./auth/task-types.js";
import { serverCredentials, type TlsOptions } from "./auth/tls.js";
import { systemClock, type Clock } from "./clock.js";
import { startConductorApi } from "./conductor-api/index.js";
import { startConsoleServer, type ConsoleServer } from "./console/console-server.js";
import { RunChanges } from "./console/run-changes.js";
import { ReplicaView } from "./console/replica-view.js";
import { Dispatcher } from "./dispatch/dispatcher.js";
import { RunWaiters } from "./dispatch/run-waiters.js";
import { ConnectedWorkers } from "./dispatch/workers.js";
import { EventConsumer } from "./event-handlers/consumer.js";
import { ownerCheck } from "./event-handlers/owner.js";
import { DEFAULT_LIMITS, type Limits } from "./limits.js";
import { createLogger, type Logger } from "./logger.js";
import { sampleDatabase } from "./observability/database-sample.js";
import { DbWatch } from "./observability/db-watch.js";
import { startOpsServer, type OpsServer } from "./observability/http.js";
import { engineObserver } from "./observability/instrument.js";
import { Metrics } from "./observability/metrics.js";
import { ReadinessProbe } from "./observability/readiness.js";
import { Reaper, parseRetention, type RetentionOptions } from "./retention/reaper.js";
import { retentionService } from "./retention/service.js";
import { RouteControl } from "./routes/control.js";
import { registerRouteMetrics } from "./routes/metrics.js";
import { VersionRouter } from "./routes/router.js";
import { Engine } from "./runtime/engine.js";
import { DEFAULT_HTTP_POLICY, HttpTasks, type HttpPolicy } from "./runtime/http-tasks.js";
import { createEngineServices } from "./runtime/services.js";
import { Timers } from "./runtime/timers.js";
import { ScheduleFirer } from "./schedules/firer.js";
import { scheduleService } from "./schedules/service.js";
import { createServices } from "./service/index.js";
import { routeService } from "./service/routes.js";
import { sessionService } from "./service/session.js";
import { NotificationListener } from "./store/notifications.js";
import { RetentionStore } from "./store/retention.js";
import { RouteStore } from "./store/routes.js";
import { ScheduleStore } from "./store/schedules.js";
import { openStore, type Store } from "./store/store.js";

export interface ServerOptions {
  databaseUrl: string;
  /** Address to bind; loopback by default. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  clock?: Clock;
  logger?: Logger;
  limits?: Partial<Limits>;
  /** Host names ("*": any), addresses and CIDRs HTTP tasks may call (default: none, HTTP tasks are refused). */
  httpAllowedHosts?: string[];
  /** HTTP tasks' time limit and calls in flight (defaults: 30 s, 64 at once, 1024 waiting). */
  http?: Partial<Pick<HttpPolicy, "timeoutMs" | "maxInFlight" | "maxWaiting">>;
  /**
   * Whether keys that may start runs (operators) may run definitions sent
   * with the request, and SUB_WORKFLOWs definitions taken from run data.
   * Off by default where keys are required: only admin keys may then.
   */
  inlineDefinitions?: boolean;
  poolSize?: number;
  /** Starts in progress at once beyond which new starts are refused (RESOURCE_EXHAUSTED with a retry hint). */
  maxConcurrentStarts?: number;
  /** Real-time period of the timer sweep and the dispatch safety net. */
  sweepMs?: number;
  /**
   * "required": every call needs an API key (`authorization: Bearer <key>`).
   * Default: disabled on a loopback address, required on any other.
   */
  auth?: { mode: "required" | "disabled"; /** How long a key lookup is trusted (default 1000 ms). */ cacheMs?: number };
  /** TLS for the gRPC port (plaintext when absent). */
  tls?: TlsOptions;
  /**
   * Start although keys are required and a port beyond loopback is plaintext
   * (behind a proxy or mesh that encrypts); a warning is logged. Refused otherwise.
   */
  allowPlaintextKeys?: boolean;
  /** The HTTP port for /metrics, /healthz, /readyz (none when absent; host defaults to loopback). */
  metrics?: { port: number; host?: string };
  /** The HTTP port for Conductor's REST API under /api (none when absent; 0 picks a free port; host defaults to `host`). */
  conductor?: { port: number; host?: string };
  /** The console's HTTP port (web pages and the Connect protocol; none when absent; host defaults to `host`). */
  console?: { port: number; host?: string };
  /** Removing ended runs: the default period, an export directory (none: runs are kept unless their workflow sets retentionSeconds). */
  retention?: RetentionOptions;
}

export interface BatonServer {
  /** host:port the gRPC server listens on. */
  address: string;
  port: number;
  engine: Engine;
  /** The server's door into state (for test drivers: snapshots, the pool, where connections go). */
  store: Store;
  clock: Clock;
  /** Whether calls need an API key. */
  auth: "required" | "disabled";
  tls: boolean;
  /** This process's metrics (also served on the metrics port when one is set). */
  metrics: Metrics;
  /** host:port of the /metrics, /healthz, /readyz listener, when started. */
  metricsAddress?: string;
  /** host:port of Conductor's REST API, when started. */
  conductorAddress?: string;
  /** http://host:port of the console, when started. */
  consoleUrl?: string;
  /** Fires every due timer, pending cross-run effect and event now (for tests that move the clock). */
  settle(): Promise<void>;
  close(): Promise<void>;
}

export async function startServer(options: ServerOptions): Promise<BatonServer> {
  const log = options.logger ?? createLogger();
  const clock = options.clock ?? systemClock;
  const limits = { ...DEFAULT_LIMITS, ...options.limits };
  const host = options.host ?? "127.0.0.1";
  const consoleHost = options.console?.host ?? host;
  // Open only when every port is reachable from this machine alone.
  const authMode = options.auth?.mode ?? (isLoopback(host) && (!options.console || isLoopback(consoleHost)) ? "disabled" : "required");
  // Keys in cleartext beyond this machine: refused before anything starts, unless allowed.
  const listeners: Listener[] = [
    { name: "gRPC", host, tls: options.tls !== undefined },
    ...(options.conductor ? [{ name: "Conductor REST", host: options.conductor.host ?? host, tls: false }] : []),
    ...(options.console ? [{ name: "console", host: consoleHost, tls: false }] : []),
  ];
  const exposed = authMode === "required" ? plaintextKeyListeners(listeners, isLoopback) : [];
  if (exposed.length > 0 && !options.allowPlaintextKeys) throw new Error(plaintextKeysRefusal(exposed));
  // Read certificates and the HTTP allowlist before anything starts: a bad one fails fast.
  const credentials = serverCredentials(options.tls);
  const http = new HttpTasks(
    { handle: (target, event) => engine.handle(target, event) },
    { ...DEFAULT_HTTP_POLICY, ...options.http, allowedHosts: options.httpAllowedHosts ?? [], maxResponseBytes: limits.payloadBytes },
    clock,
    log,
  );
  // Process metrics (CPU, memory, event loop, GC) only where they are served: they install observers.
  const metrics = new Metrics(() => sampleDatabase(store, clock), 1000, { processMetrics: options.metrics !== undefined });
  const store = openStore(options.databaseUrl, { poolSize: options.poolSize ?? 10, onDbError: (error) => metrics.dbError(error) });
  await store.migrate();

  // Built in the order they are needed; a hook refers to a part built after
  // it only through a closure, called once the server serves.
  const engineServices = {
    ...(await createEngineServices()),
    inlineDefinitionsFromData: authMode === "disabled" || options.inlineDefinitions === true,
    maxOutputBytes: limits.payloadBytes,
  };
  // Routes: which version a start without one gets (weights, sticky keys, a guard that rolls back).
  const routeStore = new RouteStore(store.pool);
  const router = new VersionRouter(routeStore);
  // Tasks handed out here are remembered by type, so a scoped worker's updates need no lookup.
  const taskTypes = new TaskTypes(store);
  const observer = engineObserver(metrics, authMode === "required" ? (task) => taskTypes.remember(task.id, task.defName) : undefined);
  // Console viewers wait on these; with none watching each is one lookup.
  // The replica view shares them, and this replica's workers, with the other replicas.
  const changes = new RunChanges(() => replicas.beatSoon());
  const workers = new ConnectedWorkers(() => clock.now());
  const replicas = new ReplicaView(store, workers, changes, log);
  const waiters = new RunWaiters();
  const dispatcher = new Dispatcher(
    store,
    clock,
    log,
    {
      claimed: (tasks, at) => {
        engine.claimed(tasks);
        observer.claimed(tasks, at);
        if (replicas.anyoneWatching) for (const task of tasks) replicas.moved(task.runId);
      },
    },
    options.sweepMs ?? 250,
  );
  const engine = new Engine({
    store,
    clock,
    services: engineServices,
    log,
    limits: { maxConcurrentStarts: options.maxConcurrentStarts ?? 256 },
    router,
    hooks: {
      tasksReady: (types) => types.forEach((t) => dispatcher.wake(t)),
      runEnded: (runId) => waiters.ended(runId),
      decided: (decision, events) => {
        observer.decided(decision, events);
        replicas.moved(decision.run.id);
      },
      runAsync: (task) => http.run(task),
      taskDefsChanged: () => dispatcher.forgetLimits(),
      reserveWorker: (type) => observer.reserved(dispatcher.reserve(type)),
    },
  });
  const timers = new Timers(engine, store, clock, log, options.sweepMs ?? 200);
  // Event handlers: any replica takes events off the bus and runs their actions.
  const keys = new KeyRegistry(store);
  const eventHandlers = new EventConsumer(
    {
      store,
      engine,
      evaluateScript: (source, bindings) => engineServices.evaluator.evaluateScript(source, bindings),
      clock,
      log,
      // With keys, a handler acts with its owner's rights as they are when it fires.
      ...(authMode === "required" ? { ownerCheck: ownerCheck(keys) } : {}),
    },
    { pollMs: options.sweepMs ?? 250 },
  );
  // Schedules: due rows any replica fires, like timers.
  const scheduleStore = new ScheduleStore(store.pool);
  const schedules = new ScheduleFirer(scheduleStore, engine, clock, log, options.sweepMs ?? 250);
  // Retention: ended runs past their period, removed in small batches by any replica.
  const retentionStore = new RetentionStore(store.pool);
  const reaper = new Reaper(retentionStore, clock, log, options.retention ?? {}, metrics.registry);
  const dbWatch = new DbWatch(store, log, metrics.registry);
  const routeControl = new RouteControl(routeStore, clock, log, {
    changed: (name) => router.changed(name),
    rolledBack: (name) => routeMetrics.rollbacks.inc({ workflow: name }),
  });
  const routeMetrics = registerRouteMetrics(metrics.registry, () => routeStore.list(), routeControl);
  const authenticator = new Authenticator(keys, { cacheMs: options.auth?.cacheMs ?? 1000, log });
  // Calls open under each key: a revocation (here or on another replica) ends them.
  const calls = new OpenCalls(clock, limits.maxStreamAgeMs);
  const endRevoked = (id?: string) => {
    if (authMode === "required") void calls.recheck((keyId) => authenticator.refusalFor(keyId), id ? [id] : undefined);
  };
  const stopAging = calls.watchAge();
  const listener = new NotificationListener(store.locator, log, {
    keyChanged: (id) => {
      authenticator.invalidate(id);
      endRevoked(id);
    },
    tasksReady: (types) => types.forEach((t) => dispatcher.wake(t)),
    runEnded: (runId) => waiters.ended(runId),
    taskDefsChanged: () => engine.taskDefsChanged(),
    workflowDefsChanged: (name) => engine.workflowDefsChanged(name),
    eventPublished: () => void eventHandlers.drain(),
    routesChanged: (name) => router.changed(name),
    runsMoved: (from, ids) => replicas.movedElsewhere(from, ids),
    lost: () => {
      metrics.dbErrors.inc({ code: "connection" });
      // Revocations and definition changes may have been missed while disconnected.
      authenticator.invalidate();
      endRevoked();
      engine.taskDefsChanged();
      engine.workflowDefsChanged();
      router.changed();
      changes.movedAll();
    },
  });
  await listener.start();
  await replicas.start();

  const server = new grpc.Server({
    "grpc.max_receive_message_length": limits.definitionBytes + 1024 * 1024,
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_permit_without_calls": 1,
    // Calls a connection may have open at once. Under a flood, calls the
    // server has not read yet wait in its HTTP/2 session's memory; beyond this
    // they wait in the client instead (measured at 10x the sustainable start
    // rate: peak RSS 699 -> 322 MB). Far above what workers and clients use.
    "grpc.max_concurrent_streams": 10_000,
  });
  const onError = (method: string, error: unknown) => log.error({ err: error, method }, "request failed");
  // Every call passes one gate: authentication, role, task-type scope, metrics.
  const gate = {
    ...(authMode === "required" ? { authenticate: (metadata: grpc.Metadata) => authenticator.authenticate(metadata) } : {}),
    taskTypeOf: (taskId: string) => taskTypes.of(taskId),
    calls,
    inlineDefinitions: options.inlineDefinitions === true,
    observe: (method: string, code: grpc.status, seconds: number) => metrics.observeRpc(method, grpc.status[code] ?? String(code), seconds),
    log,
  };
  const impls = createServices({
    engine,
    store,
    dispatcher,
    waiters,
    clock,
    limits,
    changes,
    workers,
    everyReplica: replicas,
    eventPublished: () => void eventHandlers.drain(),
  });
  // The gated handlers, served over gRPC here and over Connect on the console port.
  const services = [
    { service: MetadataService, handlers: guard(methodsOf(MetadataService), serviceHandlers(MetadataService, impls.metadata, onError), gate) },
    { service: WorkflowService, handlers: guard(methodsOf(WorkflowService), serviceHandlers(WorkflowService, impls.workflows, onError), gate) },
    { service: TaskService, handlers: guard(methodsOf(TaskService), serviceHandlers(TaskService, impls.tasks, onError), gate) },
    { service: EventService, handlers: guard(methodsOf(EventService), serviceHandlers(EventService, impls.events, onError), gate) },
    {
      service: ScheduleService,
      handlers: guard(
        methodsOf(ScheduleService),
        serviceHandlers(ScheduleService, scheduleService(scheduleStore, store, schedules, clock, limits), onError),
        gate,
      ),
    },
    {
      service: RetentionService,
      handlers: guard(methodsOf(RetentionService), serviceHandlers(RetentionService, retentionService(retentionStore, reaper), onError), gate),
    },
    { service: RouteService, handlers: guard(methodsOf(RouteService), serviceHandlers(RouteService, routeService(routeControl), onError), gate) },
    {
      service: SessionService,
      handlers: guard(methodsOf(SessionService), serviceHandlers(SessionService, sessionService(authMode === "required"), onError), gate),
    },
  ];
  for (const { service, handlers } of services) server.addService(serviceDefinition(service), handlers);
  server.addService(
    keyServiceDefinition,
    guard(
      keyServiceMethods,
      keyServiceHandlers(keys, (id) => {
        authenticator.invalidate(id);
        endRevoked(id);
      }),
      gate,
    ),
  );
  let bound = false;
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host.includes(":") ? `[${host}]` : host}:${options.port ?? 0}`, credentials, (error, port) => (error ? reject(error) : resolve(port))),
  );
  bound = true;
  const readiness = new ReadinessProbe(store, () => bound, log);
  let ops: OpsServer | undefined;
  if (options.metrics) {
    ops = await startOpsServer({ host: options.metrics.host ?? "127.0.0.1", port: options.metrics.port, metrics, readiness: () => readiness.check(), log });
  }
  const conductor = options.conductor
    ? await startConductorApi({
        host: options.conductor.host ?? host,
        port: options.conductor.port,
        services: impls,
        store,
        limits,
        log,
        ...(gate.authenticate ? { authenticate: gate.authenticate } : {}),
        taskTypeOf: gate.taskTypeOf,
        inlineDefinitions: gate.inlineDefinitions,
      })
    : undefined;
  let consoleServer: ConsoleServer | undefined;
  if (options.console) {
    consoleServer = await startConsoleServer({ host: consoleHost, port: options.console.port, services, authRequired: authMode === "required", log });
  }
  dispatcher.start();
  timers.start();
  schedules.start();
  reaper.start();
  // The route guard looks at canaries every few seconds on any replica; a rollback happens once (it is conditional on the route's revision).
  const guardTimer = setInterval(
    () => void routeControl.guard().catch((error: unknown) => log.warn({ err: error }, "route guard check failed")),
    options.sweepMs ? options.sweepMs * 20 : 5000,
  );
  guardTimer.unref();
  eventHandlers.start();
  dbWatch.start();
  log.info(
    {
      host,
      port,
      auth: authMode,
      tls: options.tls !== undefined,
      ...(ops ? { metrics: ops.address } : {}),
      ...(conductor ? { conductor: conductor.address } : {}),
      ...(consoleServer ? { console: consoleServer.url } : {}),
    },
    "baton server listening",
  );
  if (exposed.length > 0) {
    log.warn(
      { listeners: exposed.map((l) => `${l.name} ${l.host}`) },
      "API KEYS TRAVEL IN CLEARTEXT on a non-loopback address (allowed by --insecure-allow-plaintext-keys): anyone on the path can read and reuse them",
    );
  }
  if (authMode === "disabled" && !isLoopback(host)) {
    log.warn({ host, port }, "AUTHENTICATION IS DISABLED on a non-loopback address: anyone who can reach this port can run and change flows");
  }

  return {
    address: `${host.includes(":") ? `[${host}]` : host}:${port}`,
    port,
    engine,
    store,
    clock,
    auth: authMode,
    tls: options.tls !== undefined,
    metrics,
    ...(ops ? { metricsAddress: ops.address } : {}),
    ...(conductor ? { conductorAddress: conductor.address } : {}),
    ...(consoleServer ? { consoleUrl: consoleServer.url } : {}),
    async settle() {
      await schedules.sweep();
      await timers.sweep();
      await eventHandlers.drain();
      await routeControl.guard();
    },
    async close() {
      stopAging();
      clearInterval(guardTimer);
      timers.stop();
      await schedules.stop();
      await reaper.stop();
      await eventHandlers.stop();
      dbWatch.stop();
      dispatcher.stop();
      await conductor?.close();
      await consoleServer?.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
      bound = false;
      await ops?.close();
      await replicas.stop();
      await listener.stop();
      await store.close();
      await engineServices.evaluator.close();
      http.close();
    },
  };
}

const LOOPBACK = new Set(["127.0.0.1", "::1", "localhost", "[::1]"]);

export function isLoopback(host: string): boolean {
  return LOOPBACK.has(host) || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * Server options from the environment (what `baton-server` reads):
 * BATON_HOST, BATON_PORT, BATON_CONDUCTOR_PORT / BATON_CONDUCTOR_HOST, BATON_TLS_CERT / BATON_TLS_KEY / BATON_TLS_CA (file
 * paths) and BATON_TLS_REQUIRE_CLIENT_CERT=1, BATON_METRICS_PORT /
 * BATON_METRICS_HOST, BATON_AUTH=required|disabled (BATON_INSECURE_NO_AUTH=1
 * is the same as disabled), BATON_CONSOLE_PORT / BATON_CONSOLE_HOST, BATON_RETENTION (how long ended runs are kept:
 * "30d" by default, "off" to keep them) and BATON_RETENTION_EXPORT_DIR,
 * BATON_ALLOW_INLINE_DEFINITIONS=1, BATON_HTTP_ALLOWED_HOSTS=host,address,cidr…,
 * BATON_HTTP_TIMEOUT_MS, BATON_HTTP_MAX_IN_FLIGHT, BATON_INSECURE_ALLOW_PLAINTEXT_KEYS=1.
 */
export function serverOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Omit<ServerOptions, "databaseUrl"> {
  const get = (name: string) => env[name] || undefined;
  const truthy = (name: string) => /^(1|true|yes)$/i.test(get(name) ?? "");
  const options: Omit<ServerOptions, "databaseUrl"> = {};
  const host = get("BATON_HOST");
  if (host) options.host = host;
  const port = get("BATON_PORT");
  if (port) options.port = Number(port);
  const cert = get("BATON_TLS_CERT");
  const key = get("BATON_TLS_KEY");
  const ca = get("BATON_TLS_CA");
  if (cert || key) {
    if (!cert || !key) throw new Error("TLS needs both BATON_TLS_CERT and BATON_TLS_KEY");
    options.tls = { cert, key, ...(ca ? { ca } : {}), ...(truthy("BATON_TLS_REQUIRE_CLIENT_CERT") ? { requireClientCert: true } : {}) };
  }
  const metricsPort = get("BATON_METRICS_PORT");
  if (metricsPort) {
    const metricsHost = get("BATON_METRICS_HOST");
    options.metrics = { port: Number(metricsPort), ...(metricsHost ? { host: metricsHost } : {}) };
  }
  const conductorPort = get("BATON_CONDUCTOR_PORT");
  if (conductorPort) {
    const conductorHost = get("BATON_CONDUCTOR_HOST");
    options.conductor = { port: Number(conductorPort), ...(conductorHost ? { host: conductorHost } : {}) };
  }
  const consolePort = get("BATON_CONSOLE_PORT");
  if (consolePort) {
    if (!/^\d+$/.test(consolePort) || Number(consolePort) > 65535) throw new Error(`BATON_CONSOLE_PORT must be a port number (0-65535), not "${consolePort}"`);
    const consoleHost = get("BATON_CONSOLE_HOST");
    options.console = { port: Number(consolePort), ...(consoleHost ? { host: consoleHost } : {}) };
  }
  const retention = parseRetention(get("BATON_RETENTION") ?? "30d");
  const exportDir = get("BATON_RETENTION_EXPORT_DIR");
  if (retention !== undefined || exportDir)
    options.retention = { ...(retention !== undefined ? { defaultSeconds: retention } : {}), ...(exportDir ? { exportDir } : {}) };
  if (truthy("BATON_ALLOW_INLINE_DEFINITIONS")) options.inlineDefinitions = true;
  if (truthy("BATON_INSECURE_ALLOW_PLAINTEXT_KEYS")) options.allowPlaintextKeys = true;
  const httpHosts = get("BATON_HTTP_ALLOWED_HOSTS");
  if (httpHosts)
    options.httpAllowedHosts = httpHosts
      .split(",")
      .map((h) => h.trim())
      .filter((h) => h !== "");
  const httpTimeout = get("BATON_HTTP_TIMEOUT_MS");
  const httpInFlight = get("BATON_HTTP_MAX_IN_FLIGHT");
  if (httpTimeout || httpInFlight) {
    const count = (name: string, text: string) => {
      if (!/^[1-9]\d*$/.test(text)) throw new Error(`${name} must be a positive whole number, not "${text}"`);
      return Number(text);
    };
    options.http = {
      ...(httpTimeout ? { timeoutMs: count("BATON_HTTP_TIMEOUT_MS", httpTimeout) } : {}),
      ...(httpInFlight ? { maxInFlight: count("BATON_HTTP_MAX_IN_FLIGHT", httpInFlight) } : {}),
    };
  }
  const auth = get("BATON_AUTH");
  if (truthy("BATON_INSECURE_NO_AUTH")) options.auth = { mode: "disabled" };
  else if (auth === "required" || auth === "disabled") options.auth = { mode: auth };
  else if (auth) throw new Error(`BATON_AUTH must be "required" or "disabled", not "${auth}"`);
  return options;
}
