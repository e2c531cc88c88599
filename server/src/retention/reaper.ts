// Retention: any replica removes ended runs past their retention period (the
// server's default, or the workflow's own `retentionSeconds`), in small
// batches of short transactions, oldest first; optionally each run is first
// appended to a JSON-lines export file. Replicas share the work through
// SKIP LOCKED: two reapers never wait on each other or on an event.
import { open } from "node:fs/promises";
import path from "node:path";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Clock } from "../clock.js";
import { within } from "../observability/within.js";
import type { Logger } from "../logger.js";
import type { PurgeFilter, Store } from "../store/store.js";
import { Ticker } from "../ticker.js";

/** No retention period may be shorter: a run must stay long enough to be looked at. */
export const MIN_RETENTION_SECONDS = 3600;

export interface RetentionOptions {
  /** Ended runs older than this are removed (undefined or 0: kept, unless their workflow sets retentionSeconds). */
  defaultSeconds?: number;
  /** Each removed run is appended to `<dir>/runs-<YYYY-MM-DD>.jsonl` (the removal's date) before it goes. */
  exportDir?: string;
  /** Runs per transaction (default 500). */
  batch?: number;
  /** Tasks per transaction, of the runs it removes together (default 5,000; a run with more goes alone). */
  batchTasks?: number;
  /** Task log lines per transaction (default 50,000; a batch whose runs have more removes only lines, and the next goes on). */
  batchLogs?: number;
  /** Real time between passes (default 60 s); moving a test clock also starts one. */
  intervalMs?: number;
}

/** Whether a period of `seconds` may be a retention: a whole number of seconds, at least the shortest. */
const allowedRetention = (seconds: number) => Number.isSafeInteger(seconds) && seconds >= MIN_RETENTION_SECONDS;

export function checkRetention(seconds: number, what: string): void {
  if (!allowedRetention(seconds)) {
    throw new Error(`${what} must be a whole number of seconds, at least ${MIN_RETENTION_SECONDS} (one hour); got ${seconds}`);
  }
}

/** Parses BATON_RETENTION: "30d", "12h", "3600" (seconds), or "off". */
export function parseRetention(text: string): number | undefined {
  if (/^(off|0|none)$/i.test(text)) return undefined;
  const m = /^(\d+)\s*([smhd]?)$/i.exec(text.trim());
  if (!m) throw new Error(`BATON_RETENTION must be a duration such as "30d", "12h" or "3600" (seconds), or "off"; got "${text}"`);
  const unit = { "": 1, s: 1, m: 60, h: 3600, d: 86_400 }[m[2]!.toLowerCase() as "" | "s" | "m" | "h" | "d"];
  const seconds = Number(m[1]) * unit;
  if (!allowedRetention(seconds))
    throw new Error(`BATON_RETENTION is ${text} (${seconds} s), under the shortest allowed, one hour: use 1h or more, or "off" to keep every run`);
  return seconds;
}

export class Reaper {
  readonly runsRemoved: Counter;
  readonly tasksRemoved: Counter;
  private readonly ticker: Ticker;

  constructor(
    private readonly store: Pick<Store, "removeEndedRuns" | "oldestEndedRun" | "retentionOverrides" | "removeIdleConcurrencyKeys">,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly options: RetentionOptions,
    registry: Registry,
  ) {
    if (options.defaultSeconds) checkRetention(options.defaultSeconds, "the default retention");
    this.ticker = new Ticker(
      () => this.reap(),
      (error) => log.warn({ err: error }, "retention pass failed"),
      options.intervalMs ?? 60_000,
      clock,
    );
    const registers = [registry];
    this.runsRemoved = new Counter({
      name: "baton_retention_runs_removed_total",
      help: "Ended runs removed by retention or purge, by this process",
      registers,
    });
    this.tasksRemoved = new Counter({ name: "baton_retention_tasks_removed_total", help: "Tasks of removed runs, by this process", registers });
    new Gauge({
      name: "baton_oldest_ended_run_timestamp_seconds",
      help: "End time of the oldest ended run still stored (0: none)",
      registers,
      // Read when scraped, bounded in time; a database that is down keeps the last value (and /metrics still answers).
      collect: async function (this: Gauge) {
        const oldest = await within(
          store.oldestEndedRun().catch(() => undefined),
          2000,
          () => undefined,
        );
        if (oldest !== undefined) this.set(oldest / 1000);
      },
    });
  }

  start(): void {
    this.ticker.start();
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }

  /** One pass: every workflow with its own period, then the rest under the default. A call during a pass waits for it and runs one more (time may have moved). */
  pass(): Promise<void> {
    return this.ticker.run();
  }

  private async reap(): Promise<void> {
    const now = this.clock.now();
    const overrides = await this.store.retentionOverrides();
    for (const [workflow, seconds] of overrides) await this.purge({ before: now - seconds * 1000, workflow });
    if (this.options.defaultSeconds) await this.purge({ before: now - this.options.defaultSeconds * 1000, except: [...overrides.keys()] });
    // What runs leave behind that their removal does not reach: counts of concurrency keys no run holds or waits for.
    if (this.options.defaultSeconds || overrides.size > 0) {
      const batch = this.options.batch ?? 500;
      while (!this.ticker.stopped && (await this.store.removeIdleConcurrencyKeys(batch)) === batch) await new Promise((r) => setImmediate(r));
    }
  }

  /** Removes everything `f` matches, batch by batch; returns the totals. */
  async purge(f: PurgeFilter): Promise<{ runs: number; tasks: number }> {
    const limit = { runs: this.options.batch ?? 500, tasks: this.options.batchTasks ?? 5000, logs: this.options.batchLogs ?? 50_000 };
    const total = { runs: 0, tasks: 0 };
    for (;;) {
      if (this.ticker.stopped) break;
      const removed = await this.store.removeEndedRuns(f, limit, this.options.exportDir ? (lines) => this.export(lines) : undefined);
      total.runs += removed.runs;
      total.tasks += removed.tasks;
      this.runsRemoved.inc(removed.runs);
      this.tasksRemoved.inc(removed.tasks);
      if (!removed.more) break;
      // Let the serving work in between batches.
      await new Promise((r) => setImmediate(r));
    }
    if (total.runs > 0) this.log.info({ ...total, before: f.before, ...(f.workflow ? { workflow: f.workflow } : {}) }, "retention: ended runs removed");
    return total;
  }

  /**
   * Appends the runs' lines to today's export file as they are read, and flushes it to disk before their rows are deleted. A
   * batch that fails on the way (its runs stay) takes its part of a line back out, so the next line starts on a line of its own.
   */
  private async export(lines: AsyncIterable<string>): Promise<void> {
    const day = new Date(this.clock.now()).toISOString().slice(0, 10);
    const file = await open(path.join(this.options.exportDir!, `runs-${day}.jsonl`), "a");
    const size = (await file.stat()).size;
    try {
      for await (const text of lines) await file.write(text);
      await file.sync();
    } catch (error) {
      await file.truncate(size);
      throw error;
    } finally {
      await file.close();
    }
  }
}
