// Multi-host connection strings (`postgresql://h1:5432,h2:5432/db?target_session_attrs=read-write`),
// which node-postgres does not understand: the locator keeps the list, finds
// the node that takes writes, and looks again when a connection fails, so the
// server follows a failover to whichever node is primary now.
import pg from "pg";

export interface ParsedHosts {
  /** One single-host URL per host, in the order given. */
  urls: string[];
  /** Only a node that is not in recovery will do (implied by several hosts). */
  readWrite: boolean;
}

/** Splits a libpq-style URL with several hosts into single-host URLs. */
export function parseHosts(connectionString: string): ParsedHosts {
  const m = /^(postgres(?:ql)?:\/\/)([^@/?]*@)?([^/?]*)(\/[^?]*)?(\?.*)?$/.exec(connectionString);
  if (!m) return { urls: [connectionString], readWrite: false };
  const [, scheme, auth = "", hostList = "", path = "", query = ""] = m;
  const params = new URLSearchParams(query.slice(1));
  const attrs = params.get("target_session_attrs");
  // node-postgres would pass it on to the server as a setting and fail.
  params.delete("target_session_attrs");
  const rest = params.toString();
  const hosts = hostList.split(",").filter((h) => h !== "");
  const urls = (hosts.length > 0 ? hosts : [""]).map((host) => `${scheme}${auth}${host}${path}${rest ? `?${rest}` : ""}`);
  return { urls, readWrite: attrs === "read-write" || attrs === "primary" || urls.length > 1 };
}

export class PrimaryLocator {
  readonly urls: string[];
  private readonly readWrite: boolean;
  /** The URL new connections go to. */
  current: string;
  private refreshing: Promise<string> | undefined;
  private lastRefresh = 0;

  constructor(connectionString: string) {
    const parsed = parseHosts(connectionString);
    this.urls = parsed.urls;
    this.readWrite = parsed.readWrite;
    this.current = this.urls[0]!;
  }

  /** Finds the node to use now: the first that answers (and takes writes, when that is asked for). */
  refresh(): Promise<string> {
    if (this.urls.length === 1 && !this.readWrite) return Promise.resolve(this.current);
    this.refreshing ??= this.probe().finally(() => {
      this.refreshing = undefined;
      this.lastRefresh = Date.now();
    });
    return this.refreshing;
  }

  /** A connection failed: look for the primary again (at most twice a second). */
  trouble(): void {
    if (Date.now() - this.lastRefresh < 500) return;
    void this.refresh().catch(() => {});
  }

  private async probe(): Promise<string> {
    const problems: string[] = [];
    for (const url of this.urls) {
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 3000, application_name: "baton-probe" });
      client.on("error", () => {});
      try {
        await client.connect();
        if (this.readWrite) {
          const { rows } = await client.query<{ recovery: boolean }>("SELECT pg_is_in_recovery() AS recovery");
          if (rows[0]?.recovery) {
            problems.push(`${hostOf(url)}: a standby`);
            continue;
          }
        }
        this.current = url;
        return url;
      } catch (error) {
        problems.push(`${hostOf(url)}: ${(error as Error).message}`);
      } finally {
        await client.end().catch(() => {});
      }
    }
    throw new Error(`no usable PostgreSQL node (${problems.join("; ")})`);
  }
}

function hostOf(url: string): string {
  return /@([^/?]*)/.exec(url)?.[1] ?? /\/\/([^/?]*)/.exec(url)?.[1] ?? url;
}

/**
 * A pg Client class whose connections go wherever the locator says, and that
 * reports failed connects (to the locator, which looks for the primary again)
 * and, to `onError`, failed connects and statements.
 */
export function routedClient(locator: PrimaryLocator, onError?: (error: unknown) => void): typeof pg.Client {
  const failed = (error: unknown) => {
    locator.trouble();
    onError?.(error);
  };
  return class RoutedClient extends pg.Client {
    constructor(config?: string | pg.ClientConfig) {
      const base = typeof config === "string" ? {} : { ...(config ?? {}) };
      super({ ...base, connectionString: locator.current });
      this.on("error", () => locator.trouble());
    }

    override connect(): Promise<pg.Client>;
    override connect(callback: (err: Error) => void): void;
    override connect(callback?: (err: Error) => void): Promise<pg.Client> | void {
      if (callback) {
        super.connect((err: Error) => {
          if (err) failed(err);
          callback(err);
        });
        return;
      }
      return super.connect().catch((err: unknown) => {
        failed(err);
        throw err;
      });
    }

    // Both forms pg has: a callback last (what the pool uses), or a promise.
    override query(...args: any[]): any {
      if (!onError) return (super.query as (...a: unknown[]) => unknown)(...args);
      const last = args[args.length - 1];
      if (typeof last === "function") {
        args[args.length - 1] = (error: Error | null | undefined, ...rest: unknown[]) => {
          if (error) onError(error);
          (last as (...a: unknown[]) => void)(error, ...rest);
        };
        return (super.query as (...a: unknown[]) => unknown)(...args);
      }
      const result = (super.query as (...a: unknown[]) => unknown)(...args);
      if (result && typeof (result as Promise<unknown>).then === "function") (result as Promise<unknown>).then(undefined, onError);
      return result;
    }
  };
}
