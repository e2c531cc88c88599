// Watches the database for transactions that stay open long enough to block
// runs and claims (a forgotten psql session, a stuck migration): logs each one
// and exposes the oldest transaction's age and the number of blocked backends.
import { Gauge, type Registry } from "prom-client";
import type { Logger } from "../logger.js";
import type { Store } from "../store/store.js";

export class DbWatch {
  private timer: NodeJS.Timeout | undefined;
  private readonly oldest: Gauge;
  private readonly blocked: Gauge;
  private readonly warned = new Set<number>();

  constructor(
    private readonly store: Pick<Store, "openTransactions">,
    private readonly log: Logger,
    registry: Registry,
    private readonly options: { thresholdMs: number; everyMs: number } = { thresholdMs: 5_000, everyMs: 1_000 },
  ) {
    this.oldest = new Gauge({
      name: "baton_db_oldest_transaction_seconds",
      help: "Age of the oldest open transaction on Baton's database (any client)",
      registers: [registry],
    });
    this.blocked = new Gauge({
      name: "baton_db_blocked_backends",
      help: "Backends of Baton's database waiting for a lock",
      registers: [registry],
    });
  }

  start(): void {
    const tick = () => {
      void this.check()
        .catch(() => {})
        .finally(() => {
          this.timer = setTimeout(tick, this.options.everyMs);
          this.timer.unref();
        });
    };
    tick();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
  }

  private async check(): Promise<void> {
    const rows = await this.store.openTransactions(10);
    this.oldest.set(rows.length > 0 ? rows[0]!.ageMs / 1000 : 0);
    this.blocked.set(rows[0]?.blocked ?? 0);
    const open = new Set<number>();
    for (const row of rows) {
      if (row.ageMs < this.options.thresholdMs) continue;
      open.add(row.pid);
      if (this.warned.has(row.pid)) continue;
      this.warned.add(row.pid);
      this.log.warn(
        { pid: row.pid, ageSeconds: Math.round(row.ageMs / 1000), state: row.state, application: row.application, blockedBackends: row.blocked },
        "a database transaction has been open for a long time: it can block runs and claims, and holds back vacuum",
      );
    }
    for (const pid of this.warned) if (!open.has(pid)) this.warned.delete(pid);
  }
}
