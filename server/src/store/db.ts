// The connection pool and transactions: how every store operation reaches
// PostgreSQL. Connections go to the node the locator picked (the primary when
// several hosts are given) and report failures to the hook given here.
import { parseJson } from "@baton/json";
import pg from "pg";
import { routedClient, type PrimaryLocator } from "./hosts.js";

const { Pool, types } = pg;

export type Tx = pg.PoolClient;
/** A transaction's client, or the pool for a statement on its own. */
export type Queryable = pg.ClientBase | pg.Pool;

/** Told of every failed connect and statement (for the error counters). */
export type DbErrorHook = (error: unknown) => void;

// bigint columns hold epoch milliseconds: well inside the safe integer range.
// json and jsonb keep integers beyond 2^53 exact.
const typeParsers = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === 20
      ? (value: string) => Number(value)
      : oid === 114 || oid === 3802
        ? parseJson
        : types.getTypeParser(oid, format as "text")) as typeof types.getTypeParser,
};

/**
 * An error that says the connection (or the node behind it) is unusable: the
 * database went away, the session was terminated, or the node became a
 * standby. Such a client is dropped from the pool, and the call may be retried.
 */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string") {
    if (code.startsWith("08") || code.startsWith("57P") || code === "25006" || code === "53300") return true;
    if (code === "ECONNREFUSED" || code === "ECONNRESET" || code === "EPIPE" || code === "ETIMEDOUT") return true;
  }
  const message = error instanceof Error ? error.message : "";
  return /Connection terminated|connection timeout|Client has encountered a connection error|timeout exceeded when trying to connect/i.test(message);
}

export interface PoolOptions {
  size: number;
  applicationName?: string;
  /** Fail a connect (and, when set, a statement) after this long. */
  timeoutMs?: number;
  statementTimeoutMs?: number;
  /** PostgreSQL cancels any statement of these connections running longer (its statement_timeout). */
  statementLimitMs?: number;
  idleTimeoutMs?: number;
  onError?: DbErrorHook;
  /**
   * Plan each prepared statement once (plan_cache_mode=force_generic_plan),
   * for connections that run only fixed statements keyed by id (claims,
   * batch writes). PostgreSQL otherwise plans them again on every call: their
   * array and LIMIT parameters make the generic plan look dearer than a plan
   * for the values at hand, though both find the same rows by the same keys.
   * Measured on the REST bench: PostgreSQL's CPU per task fell by 20%. Not
   * for searches, whose best plan depends on the values (a rare status or a
   * common one).
   */
  genericPlans?: boolean;
}

export function openPool(locator: PrimaryLocator, options: PoolOptions): pg.Pool {
  const pool = new Pool({
    // Each new connection goes to the node the locator picked (several hosts: the primary).
    Client: routedClient(locator, options.onError),
    max: options.size,
    types: typeParsers,
    application_name: options.applicationName ?? "baton",
    // Every statement here looks rows up by key. A prepared statement keeps
    // the plan it got while its tables were small (a fresh database), and a
    // sequential scan chosen then stays until the next ANALYZE while the
    // table grows: measured, it had batches and claims scan all tasks and
    // doubled PostgreSQL's CPU per task. (A connection string's own
    // `options` parameter takes precedence over this.)
    options: [
      "-c enable_seqscan=off",
      ...(options.genericPlans ? ["-c plan_cache_mode=force_generic_plan"] : []),
      ...(options.statementLimitMs ? [`-c statement_timeout=${options.statementLimitMs}`] : []),
    ].join(" "),
    // A pool that cannot hand out a connection fails the call rather than
    // leaving it waiting forever.
    connectionTimeoutMillis: options.timeoutMs ?? 30_000,
    ...(options.statementTimeoutMs ? { query_timeout: options.statementTimeoutMs } : {}),
    ...(options.idleTimeoutMs ? { idleTimeoutMillis: options.idleTimeoutMs } : {}),
  });
  // A client dying (database restart, terminated backend) must not crash the
  // process: idle ones report to the pool, checked-out ones to their own
  // listener; the query in flight fails and the event is retried or refused.
  pool.on("error", (error) => options.onError?.(error));
  pool.on("connect", (client) => client.on("error", () => {}));
  return pool;
}

/**
 * Runs `fn` in a transaction on a connection of its own. `begin` may carry
 * statements after BEGIN, sent in the same round trip (a simple query); `fn`
 * gets their results.
 */
export async function transaction<T>(pool: pg.Pool, fn: (tx: Tx, begun: pg.QueryResult[] | pg.QueryResult) => Promise<T>, begin = "BEGIN"): Promise<T> {
  const client = await pool.connect();
  try {
    const begun = (await client.query(begin)) as unknown as pg.QueryResult[] | pg.QueryResult;
    const result = await fn(client, begun);
    await client.query("COMMIT");
    client.release();
    return result;
  } catch (error) {
    await client.query("ROLLBACK").catch(() => {});
    client.release(isConnectionError(error) ? (error as Error) : undefined);
    throw error;
  }
}
