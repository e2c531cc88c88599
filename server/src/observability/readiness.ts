// /readyz: can this replica serve? It needs the database to answer (the
// store's health checks run on a connection of their own with short timeouts,
// so a dead database gives a quick 503 rather than a hung probe), the schema
// to be at least at the version this build expects, and its gRPC port bound.
// The probe is unauthenticated: a database error's text goes to the log only.
import type { Logger } from "../logger.js";
import { MIGRATIONS } from "../store/migrations.js";
import type { Store } from "../store/store.js";
import type { Readiness } from "./http.js";

export class ReadinessProbe {
  constructor(
    private readonly store: Pick<Store, "schemaVersion">,
    private readonly bound: () => boolean,
    private readonly log?: Logger,
  ) {}

  async check(): Promise<Readiness> {
    const checks: Readiness["checks"] = {};
    try {
      const version = await this.store.schemaVersion();
      checks["database"] = { ok: true };
      checks["migrations"] =
        version >= MIGRATIONS.length ? { ok: true } : { ok: false, detail: `schema at version ${version}, this server needs ${MIGRATIONS.length}` };
    } catch (error) {
      this.log?.warn({ err: error }, "readiness: the database did not answer");
      checks["database"] = { ok: false, detail: "the database did not answer (the server's log says why)" };
      checks["migrations"] = { ok: false, detail: "unknown: the database did not answer" };
    }
    checks["grpc"] = this.bound() ? { ok: true } : { ok: false, detail: "gRPC port not bound" };
    return { ready: Object.values(checks).every((c) => c.ok), checks };
  }
}
