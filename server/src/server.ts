// Wires one server process: store -> engine -> dispatcher/timers -> gRPC.
import * as grpc from "@grpc/grpc-js";
import { validateTaskDef } from "@baton/sdk";
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
import type { Principal } from "./auth/policy.js";
import { plaintextKeyListeners, plaintextKeysRefusal, type Listener } from "./auth/plaintext.js";
import { TaskTypes } from "./auth/task-types.js";
import { serverCredentials } from "./auth/tls.js";
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
import { DEFAULT_LIMITS } from "./limits.js";
import { widenReceiveWindows } from "./receive-windows.js";
import { answerBudgetInterceptor, sendsEncoded } from "./grpc-answers.js";
import { answerBudgetOf, UnsentAnswers } from "./unsent-answers.js";
import { requestBudgetInterceptor } from "./grpc-requests.js";
import { RequestBytes, requestBudgetOf } from "./request-bytes.js";
import { connectionLimitsOf, Connections } from "./connections.js";
import { listenGrpc } from "./grpc-listen.js";
import { createLogger } from "./logger.js";
import { sampleDatabase } from "./observability/database-sample.js";
import { DbWatch } from "./observability/db-watch.js";
import { startOpsServer, type OpsServer } from "./observability/http.js";
import { engineObserver } from "./observability/instrument.js";
import { Metrics } from "./observability/metrics.js";
import { ReadinessProbe } from "./observability/readiness.js";
import { Reaper } from "./retention/reaper.js";
import { retentionService } from "./retention/service.js";
import { RouteControl } from "./routes/control.js";
import { registerRouteMetrics } from "./routes/metrics.js";
import { VersionRouter } from "./routes/router.js";
import { Engine } from "./runtime/engine.js";
import { DEFAULT_HTTP_POLICY, HttpTasks } from "./runtime/http-tasks.js";
import { createEngineServices } from "./runtime/services.js";
import { Timers } from "./runtime/timers.js";
import { ScheduleFirer } from "./schedules/firer.js";
import { scheduleService } from "./schedules/service.js";
import { createServices } from "./service/index.js";
import { SearchLane } from "./service/search-lane.js";
import { publishLine } from "./service/publish-budgets.js";
import { routeService } from "./service/routes.js";
import { sessionService } from "./service/session.js";
import { NotificationListener } from "./store/notifications.js";
import { isLoopback, type ServerOptions } from "./server-options.js";
import { openStore, type Store } from "./store/store.js";

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
  // Read certificates, the request budget and the HTTP allowlist before anything starts: a bad one fails fast.
  const credentials = serverCredentials(options.tls);
  const requestBudget = requestBudgetOf(options.requestBudget);
  const http = new HttpTasks(
    { handle: (target, event) => engine.handle(target, event) },
    { ...DEFAULT_HTTP_POLICY, ...options.http, allowedHosts: options.httpAllowedHosts ?? [], maxResponseBytes: limits.payloadBytes },
    clock,
    log,
  );
  // Process metrics (CPU, memory, event loop, GC) only where they are served: they install observers.
  const metrics = new Metrics(() => sampleDatabase(store, clock), 1000, { processMetrics: options.metrics !== undefined });
  const store = openStore(options.databaseUrl, {
    ...(options.poolSize !== undefined ? { poolSize: options.poolSize } : {}),
    searchLimitMs: limits.searchMs,
    onDbError: (error) => metrics.dbError(error),
  });
  const migrated = await store.migrate().catch(async (error: unknown) => {
    await store.close().catch(() => {});
    throw error;
  });
  if (migrated.unknown.length > 0) {
    log.warn(
      { migrations: migrated.unknown.map((m) => `${m.version} ${m.name}`) },
      "the database has migrations a newer Baton applied that this server does not know; they do not change what it reads, so it serves",
    );
  }
  // The definition schemas compile on their first use: here, before any call, not in the first
  // registration, which held the event loop for it (2.1 s measured on a loaded 2-core machine).
  validateTaskDef({});

  // Built in the order they are needed; a hook refers to a part built after
  // it only through a closure, called once the server serves.
  const engineServices = {
    ...(await createEngineServices(options.queryLimits ? { queryLimits: options.queryLimits } : {})),
    inlineDefinitionsFromData: authMode === "disabled" || options.inlineDefinitions === true,
    maxOutputBytes: limits.payloadBytes,
  };
  // Routes: which version a start without one gets (weights, sticky keys, a guard that rolls back).
  const router = new VersionRouter(store);
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
    limits: { maxConcurrentStarts: options.maxConcurrentStarts ?? 256, ...(options.maxRunsPerTree ? { maxRunsPerTree: options.maxRunsPerTree } : {}) },
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
      reserveWorker: (type, room, key) => observer.reserved(dispatcher.reserve(type, room, key)),
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
      resolveWithFilters: (template, context) => engineServices.queries.resolve(template, context as Parameters<typeof engineServices.queries.resolve>[1]),
      clock,
      log,
      // With keys, a handler acts with its owner's rights as they are when it fires.
      ...(authMode === "required" ? { ownerCheck: ownerCheck(keys) } : {}),
    },
    { pollMs: options.sweepMs ?? 250 },
  );
  // Schedules: due rows any replica fires, like timers.
  const schedules = new ScheduleFirer(store, engine, clock, log, options.sweepMs ?? 250);
  // Retention: ended runs past their period, removed in small batches by any replica.
  const reaper = new Reaper(store, clock, log, options.retention ?? {}, metrics.registry);
  const dbWatch = new DbWatch(store, log, metrics.registry);
  const routeControl = new RouteControl(store, clock, log, {
    changed: (name) => router.changed(name),
    rolledBack: (name) => routeMetrics.rollbacks.inc({ workflow: name }),
  });
  const routeMetrics = registerRouteMetrics(metrics.registry, () => store.listRoutes(), routeControl);
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

  // Answers written and not yet read by their callers, on the gRPC, REST and console ports together.
  const answers = new UnsentAnswers(answerBudgetOf(options.answerBudget), clock, metrics.registry);
  const stopAnswers = answers.watch();
  // Requests being read or served, on the gRPC, console and REST ports together.
  const requests = new RequestBytes(requestBudget, clock, metrics.registry);
  const stopRequests = requests.watch();
  const maxMessageBytes = limits.definitionBytes + 1024 * 1024;
  // Connections each port holds, at once and from one address.
  const connections = new Connections(connectionLimitsOf(options.connections), metrics.registry, clock, log);

  // The key of a call that sends one message is checked as its metadata arrives (the request budget's
  // interceptor, before the message is read); the guard then takes that answer instead of checking again. Calls
  // that stream their requests (Dispatch) are checked by the guard alone, afresh at each of their re-checks.
  const keyChecks = new WeakMap<grpc.Metadata, Promise<Principal>>();
  const checkEarly =
    authMode === "required"
      ? (metadata: grpc.Metadata): Promise<Principal> => {
          const checked = authenticator.authenticate(metadata);
          checked.catch(() => {}); // answered by the interceptor, or by the guard
          keyChecks.set(metadata, checked);
          return checked;
        }
      : undefined;
  const authenticate = (metadata: grpc.Metadata): Promise<Principal> => {
    const checked = keyChecks.get(metadata);
    if (!checked) return authenticator.authenticate(metadata);
    keyChecks.delete(metadata);
    return checked;
  };
  const server = new grpc.Server({
    "grpc.max_receive_message_length": maxMessageBytes,
    "grpc.keepalive_time_ms": 30_000,
    "grpc.keepalive_permit_without_calls": 1,
    // A connection with no call open this long is closed (GOAWAY; a client reconnects on its next call).
    "grpc.max_connection_idle_ms": connections.limits.idleMs,
    // Calls a connection may have open at once. Under a flood, calls the
    // server has not read yet wait in its HTTP/2 session's memory; beyond this
    // they wait in the client instead (measured at 10x the sustainable start
    // rate: peak RSS 699 -> 322 MB). Far above what workers and clients use.
    "grpc.max_concurrent_streams": 10_000,
    // The request budget's interceptor first: it reads grpc-js's call beneath it.
    interceptors: [requestBudgetInterceptor(requests, maxMessageBytes, log, checkEarly), answerBudgetInterceptor(answers, log)],
  });
  const onError = (method: string, error: unknown) => log.error({ err: error, method }, "request failed");
  // Every call passes one gate: authentication, role, task-type scope, metrics.
  const gate = {
    ...(authMode === "required" ? { authenticate } : {}),
    taskTypeOf: (taskId: string) => taskTypes.of(taskId),
    calls,
    inlineDefinitions: options.inlineDefinitions === true,
    observe: (method: string, code: grpc.status, seconds: number) => metrics.observeRpc(method, grpc.status[code] ?? String(code), seconds),
    log,
  };
  // Publishes' requests to the queries pool, over every door, wait in one line: one of its threads at most.
  const publishes = publishLine();
  // One lane for every read that costs what its caller's filter touches: runs searched and counted, queues counted, a purge's dry run.
  const searches = new SearchLane(store.searchConnections, limits.searchMs / 1000);
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
    publishes,
    searches,
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
        serviceHandlers(ScheduleService, scheduleService(store, schedules, clock, limits, engineServices.queries), onError),
        gate,
      ),
    },
    {
      service: RetentionService,
      handlers: guard(methodsOf(RetentionService), serviceHandlers(RetentionService, retentionService(store, reaper, searches), onError), gate),
    },
    {
      service: RouteService,
      handlers: guard(methodsOf(RouteService), serviceHandlers(RouteService, routeService(routeControl, searches, store.searchedVersionCounts), onError), gate),
    },
    {
      service: SessionService,
      handlers: guard(methodsOf(SessionService), serviceHandlers(SessionService, sessionService(authMode === "required"), onError), gate),
    },
  ];
  for (const { service, handlers } of services) server.addService(sendsEncoded(serviceDefinition(service)), handlers);
  server.addService(
    sendsEncoded(keyServiceDefinition),
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
  const grpcPort = await listenGrpc(server, credentials, host, options.port ?? 0, connections);
  const port = grpcPort.port;
  bound = true;
  widenReceiveWindows(server, log);
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
        answers,
        requests,
        connections,
        log,
        ...(gate.authenticate ? { authenticate: gate.authenticate, calls } : {}),
        taskTypeOf: gate.taskTypeOf,
        inlineDefinitions: gate.inlineDefinitions,
        queries: engineServices.queries,
        publishes,
      })
    : undefined;
  let consoleServer: ConsoleServer | undefined;
  if (options.console) {
    consoleServer = await startConsoleServer({
      host: consoleHost,
      port: options.console.port,
      services,
      requests,
      authRequired: authMode === "required",
      ...(gate.authenticate ? { authenticate: gate.authenticate } : {}),
      connections,
      answers,
      log,
    });
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
      // Runs admitted after a commit with no caller waiting: started before anything is read.
      await engine.admissionsDone();
      await schedules.sweep();
      await timers.sweep();
      await eventHandlers.drain();
      await routeControl.guard();
      await engine.admissionsDone();
    },
    async close() {
      stopAging();
      stopAnswers();
      stopRequests();
      clearInterval(guardTimer);
      timers.stop();
      await schedules.stop();
      await reaper.stop();
      await eventHandlers.stop();
      dbWatch.stop();
      dispatcher.stop();
      await conductor?.close();
      await consoleServer?.close();
      const accepting = grpcPort.close();
      await new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
      server.forceShutdown();
      await accepting;
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
