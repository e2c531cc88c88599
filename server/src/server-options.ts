// What a server is started with: the options, and how `baton-server` reads
// them from the environment (BATON_*). Parsing an option fails with the
// variable named, before anything starts.
import type { TlsOptions } from "./auth/tls.js";
import type { Clock } from "./clock.js";
import type { Limits } from "./limits.js";
import type { AnswerBudget } from "./unsent-answers.js";
import { requestBytesSetting, type RequestBudget } from "./request-bytes.js";
import type { ConnectionLimits } from "./connections.js";
import type { DEFAULT_QUERY_LIMITS } from "./sandbox/queries.js";
import type { Logger } from "./logger.js";
import { parseRetention, type RetentionOptions } from "./retention/reaper.js";
import type { HttpPolicy } from "./runtime/http-tasks.js";

export interface ServerOptions {
  databaseUrl: string;
  /** Address to bind; loopback by default. */
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  clock?: Clock;
  logger?: Logger;
  limits?: Partial<Limits>;
  /** Time limits of the queries pool (JSONPath filters, input schemas, publish-time path checks); defaults in sandbox/queries.ts. */
  queryLimits?: Partial<typeof DEFAULT_QUERY_LIMITS>;
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
  /** Connections to PostgreSQL for writes, reads and searches, the pools together (default 20, at least 3; see StoreOptions.poolSize). */
  poolSize?: number;
  /** Starts in progress at once beyond which new starts are refused (RESOURCE_EXHAUSTED with a retry hint). */
  maxConcurrentStarts?: number;
  /**
   * The most runs one run tree starts beside its root: the runs a caller's run starts through SUB_WORKFLOW,
   * START_WORKFLOW and failure workflows, and theirs, at any depth (default 10,000; store/run-trees.ts).
   */
  maxRunsPerTree?: number;
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
  /**
   * Bytes of answers written and not yet read by their callers the server
   * holds (gRPC, REST and console together; default: a sixteenth of memory, 64 MiB to
   * 1 GiB), a connection's share, how long a large answer waits for room
   * before it is refused, how long one may stay unread before its call is
   * ended, and how long a connection may read nothing while others wait
   * before its calls are ended (unsent-answers.ts).
   */
  answerBudget?: Partial<AnswerBudget>;
  /**
   * Bytes of requests being read or served the server holds at once, gRPC,
   * console and REST ports together (default 64 MiB), a connection's share
   * (a quarter unless given), how long a message begun may take to arrive
   * whole before its call is ended, and how long one may have been arriving
   * before its call is ended when another request finds no room (request-bytes.ts).
   */
  requestBudget?: Partial<RequestBudget>;
  /**
   * Connections each port (gRPC, Conductor REST, console) holds at once and
   * from one remote address, how long a gRPC connection may stay without a
   * call and an HTTP one without a request (connections.ts).
   */
  connections?: Partial<ConnectionLimits>;
  /** Removing ended runs: the default period, an export directory (none: runs are kept unless their workflow sets retentionSeconds). */
  retention?: RetentionOptions;
}

/** A port setting's number (0 picks a free port), or an error naming the setting: "abc" listened on NaN and threw a stack trace. */
function portSetting(name: string, text: string): number {
  if (!/^\d+$/.test(text) || Number(text) > 65535) throw new Error(`${name} must be a port number (0-65535; 0 picks a free port), not "${text}"`);
  return Number(text);
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
 * BATON_HTTP_TIMEOUT_MS, BATON_HTTP_MAX_IN_FLIGHT, BATON_INSECURE_ALLOW_PLAINTEXT_KEYS=1,
 * BATON_DB_POOL_SIZE, BATON_SEARCH_SECONDS (how long one statement of a search or count of runs may run), BATON_UNSENT_ANSWER_BYTES (the budget of answers not yet read by their callers),
 * BATON_REQUEST_BYTES (the budget of requests being read or served), BATON_REQUEST_ARRIVAL_SECONDS (how long a message begun may take to arrive whole),
 * BATON_MAX_CONNECTIONS and BATON_MAX_CONNECTIONS_PER_ADDRESS (connections a port holds; 0 per address: no limit of its own),
 * BATON_DISPATCH_SUBSCRIPTIONS_PER_KEY (task types one key's open Dispatch streams may wait on, each stream counting each of its types),
 * BATON_MAX_RUNS_PER_TREE (the most runs one run tree starts beside its root),
 * BATON_MAX_WAITING_EVENTS_PER_KEY (the most events one key may have published and not yet handled).
 */
export function serverOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): Omit<ServerOptions, "databaseUrl"> {
  const get = (name: string) => env[name] || undefined;
  const truthy = (name: string) => /^(1|true|yes)$/i.test(get(name) ?? "");
  const options: Omit<ServerOptions, "databaseUrl"> = {};
  const host = get("BATON_HOST");
  if (host) options.host = host;
  const port = get("BATON_PORT");
  if (port) options.port = portSetting("BATON_PORT", port);
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
    options.metrics = { port: portSetting("BATON_METRICS_PORT", metricsPort), ...(metricsHost ? { host: metricsHost } : {}) };
  }
  const conductorPort = get("BATON_CONDUCTOR_PORT");
  if (conductorPort) {
    const conductorHost = get("BATON_CONDUCTOR_HOST");
    options.conductor = { port: portSetting("BATON_CONDUCTOR_PORT", conductorPort), ...(conductorHost ? { host: conductorHost } : {}) };
  }
  const consolePort = get("BATON_CONSOLE_PORT");
  if (consolePort) {
    const consoleHost = get("BATON_CONSOLE_HOST");
    options.console = { port: portSetting("BATON_CONSOLE_PORT", consolePort), ...(consoleHost ? { host: consoleHost } : {}) };
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
  const poolSize = get("BATON_DB_POOL_SIZE");
  if (poolSize) {
    if (!/^\d+$/.test(poolSize) || Number(poolSize) < 3)
      throw new Error(`BATON_DB_POOL_SIZE must be a whole number of at least 3 (one connection per pool), not "${poolSize}"`);
    options.poolSize = Number(poolSize);
  }
  const searchSeconds = get("BATON_SEARCH_SECONDS");
  if (searchSeconds) {
    if (!/^[1-9]\d*$/.test(searchSeconds))
      throw new Error(
        `BATON_SEARCH_SECONDS must be a positive whole number of seconds (how long one statement of a search or count of runs may run), not "${searchSeconds}"`,
      );
    options.limits = { ...options.limits, searchMs: Number(searchSeconds) * 1000 };
  }
  const answerBytes = get("BATON_UNSENT_ANSWER_BYTES");
  if (answerBytes) {
    if (!/^[1-9]\d*$/.test(answerBytes) || Number(answerBytes) < 1024 * 1024)
      throw new Error(`BATON_UNSENT_ANSWER_BYTES must be a whole number of bytes, at least 1048576 (1 MiB), not "${answerBytes}"`);
    options.answerBudget = { totalBytes: Number(answerBytes) };
  }
  const requestBytes = get("BATON_REQUEST_BYTES");
  const arrival = get("BATON_REQUEST_ARRIVAL_SECONDS");
  if (requestBytes || arrival) {
    if (arrival && !/^[1-9]\d*$/.test(arrival))
      throw new Error(
        `BATON_REQUEST_ARRIVAL_SECONDS must be a positive whole number of seconds (how long a message begun may take to arrive whole), not "${arrival}"`,
      );
    options.requestBudget = {
      ...(requestBytes ? { totalBytes: requestBytesSetting(requestBytes) } : {}),
      ...(arrival ? { arrivalMs: Number(arrival) * 1000 } : {}),
    };
  }
  const maxConnections = get("BATON_MAX_CONNECTIONS");
  const perAddress = get("BATON_MAX_CONNECTIONS_PER_ADDRESS");
  if (maxConnections || perAddress) {
    if (maxConnections && !/^[1-9]\d*$/.test(maxConnections))
      throw new Error(`BATON_MAX_CONNECTIONS must be a positive whole number (connections a port holds at once), not "${maxConnections}"`);
    if (perAddress && !/^\d+$/.test(perAddress))
      throw new Error(
        `BATON_MAX_CONNECTIONS_PER_ADDRESS must be a whole number (connections one address holds on a port; 0: no limit of its own), not "${perAddress}"`,
      );
    options.connections = {
      ...(maxConnections ? { maxConnections: Number(maxConnections) } : {}),
      ...(perAddress ? { maxPerAddress: Number(perAddress) } : {}),
    };
  }
  const subscriptions = get("BATON_DISPATCH_SUBSCRIPTIONS_PER_KEY");
  if (subscriptions) {
    if (!/^[1-9]\d*$/.test(subscriptions))
      throw new Error(
        `BATON_DISPATCH_SUBSCRIPTIONS_PER_KEY must be a positive whole number (task types one key's open Dispatch streams may wait on, each stream counting each of its types), not "${subscriptions}"`,
      );
    options.limits = { ...options.limits, dispatchSubscriptionsPerKey: Number(subscriptions) };
  }
  const waitingEvents = get("BATON_MAX_WAITING_EVENTS_PER_KEY");
  if (waitingEvents) {
    if (!/^[1-9]\d*$/.test(waitingEvents) || Number(waitingEvents) > 2 ** 31 - 1)
      throw new Error(
        `BATON_MAX_WAITING_EVENTS_PER_KEY must be a positive whole number below 2^31 (the most events one key may have published and not yet handled), not "${waitingEvents}"`,
      );
    options.limits = { ...options.limits, waitingEventsPerKey: Number(waitingEvents) };
  }
  const perTree = get("BATON_MAX_RUNS_PER_TREE");
  if (perTree) {
    if (!/^[1-9]\d*$/.test(perTree) || Number(perTree) > 2 ** 31 - 1)
      throw new Error(
        `BATON_MAX_RUNS_PER_TREE must be a positive whole number below 2^31 (the most runs one run's SUB_WORKFLOW, START_WORKFLOW, failure-workflow and event-handler starts make, at any depth), not "${perTree}"`,
      );
    options.maxRunsPerTree = Number(perTree);
  }
  const auth = get("BATON_AUTH");
  if (truthy("BATON_INSECURE_NO_AUTH")) options.auth = { mode: "disabled" };
  else if (auth === "required" || auth === "disabled") options.auth = { mode: auth };
  else if (auth) throw new Error(`BATON_AUTH must be "required" or "disabled", not "${auth}"`);
  return options;
}
