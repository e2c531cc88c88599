// /readyz: can this replica serve? It needs the database to answer (on a
// connection of its own with short timeouts, so a dead database gives a quick
// 503 rather than a hung probe), the schema to be at least at the version this
// build expects, and its gRPC port bound.
import pg from "pg";
import { routedClient, type PrimaryLocator } from "../store/hosts.js";
import { MIGRATIONS } from "../store/migrations.js";
import type { Readiness } from "./http.js";
import { instrumentPool } from "./instrument.js";
import type { Metrics } from "./metrics.js";

export class ReadinessProbe {
  private readonly pool: pg.Pool;

  constructor(
    locator: PrimaryLocator,
    private readonly bound: () => boolean,
    metrics?: Pick<Metrics, "dbError">,
    timeoutMs = 2000,
  ) {
    this.pool = new pg.Pool({
      // Wherever the server's own connections go (the primary, after a failover too).
      Client: routedClient(locator),
      max: 1,
      idleTimeoutMillis: 30_000,
      connectionTimeoutMillis: timeoutMs,
      query_timeout: timeoutMs,
      application_name: "baton-readiness",
    });
    this.pool.on("error", () => {});
    if (metrics) instrumentPool(this.pool, metrics);
  }

  async check(): Promise<Readiness> {
    const checks: Readiness["checks"] = {};
    try {
      const { rows } = await this.pool.query<{ version: number }>("SELECT coalesce(max(version), 0)::int AS version FROM baton.migrations");
      checks["database"] = { ok: true };
      const version = rows[0]?.version ?? 0;
      checks["migrations"] =
        version >= MIGRATIONS.length ? { ok: true } : { ok: false, detail: `schema at version ${version}, this server needs ${MIGRATIONS.length}` };
    } catch (error) {
      checks["database"] = { ok: false, detail: (error as Error).message };
      checks["migrations"] = { ok: false, detail: "unknown: the database did not answer" };
    }
    checks["grpc"] = this.bound() ? { ok: true } : { ok: false, detail: "gRPC port not bound" };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }

  async close(): Promise<void> {
    await this.pool.end().catch(() => {});
  }
}
