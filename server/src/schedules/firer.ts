// Fires due schedules. Time is a due row any replica takes (as timers are):
// the sweeper locks due schedule rows (SKIP LOCKED), starts each fire time's
// run with the idempotency key "schedule:<name>@<fire ms>", and moves the row
// on in the same transaction. A crash before commit leaves the row due; the
// next sweeper starts the same keys again, which starts nothing new. So each
// fire time starts exactly one run, across replicas, restarts and crashes.
import { DEFAULT_CATCHUP_WINDOW_SECONDS, ON_TIME_MS, type WorkflowSchedule } from "@baton/sdk";
import type { Clock } from "../clock.js";
import { Refusal } from "../decider/decider.js";
import type { Logger } from "../logger.js";
import { Overloaded } from "../runtime/contract.js";
import type { Engine } from "../runtime/engine.js";
import { isConnectionError } from "../store/db.js";
import type { ScheduleProgress, ScheduleRow, Store, Tx } from "../store/store.js";
import { fireTimesBetween, fireTimesOf } from "./fire-times.js";
import { Ticker } from "../ticker.js";

/** A schedule whose firing failed is looked at again after this long (a fire up to a minute late is still on time). */
const RETRY_MS = 10_000;
/** At most this many fire times of one schedule are started per pass (the rest on the next). */
const MAX_FIRES_PER_PASS = 100;
/**
 * Missed fire times counted one by one, at most: each costs a cron computation. Beyond it an interval schedule's
 * count is worked out, and a cron schedule's is a floor.
 */
const MAX_COUNTED_MISSES = 1_000;

export function idempotencyKeyOf(name: string, fireMs: number): string {
  return `schedule:${name}@${fireMs}`;
}

const ACTIVE = new Set(["RUNNING", "PAUSED"]);

export class ScheduleFirer {
  private readonly ticker: Ticker;

  constructor(
    private readonly store: Pick<Store, "fireDueSchedules" | "runStatus">,
    private readonly engine: Pick<Engine, "handle" | "start">,
    private readonly clock: Clock,
    private readonly log: Logger,
    intervalMs = 250,
  ) {
    this.ticker = new Ticker(
      () => this.pass(),
      (error) => log.warn({ err: error }, "schedule sweep failed"),
      intervalMs,
      clock,
    );
  }

  start(): void {
    this.ticker.start();
  }

  stop(): Promise<void> {
    return this.ticker.stop();
  }

  /** Fires everything due now; a call during a pass waits for it and runs one more. */
  sweep(): Promise<void> {
    return this.ticker.run();
  }

  private async pass(): Promise<void> {
    for (let round = 0; round < 50; round++) {
      const now = this.clock.now();
      const taken = await this.store.fireDueSchedules(
        now,
        20,
        (row, tx) => this.fire(row, tx, now),
        (row, error) => this.failed(row, error, now),
      );
      if (taken < 20) return;
    }
  }

  /** Starts what is due of one schedule; returns its new progress. */
  private async fire(row: ScheduleRow, tx: Tx, now: number): Promise<ScheduleProgress> {
    const s = row.body;
    const times = fireTimesOf(s);
    const policy = s.overlapPolicy ?? "ALLOW_ALL";
    const progress: ScheduleProgress = {
      nextFireAt: row.nextFireAt,
      dueAt: 0,
      bufferedFireAt: row.bufferedFireAt,
      lastFireAt: row.lastFireAt,
      lastRunId: row.lastRunId,
      skippedFires: row.skippedFires,
    };
    const previousActive = async () => policy !== "ALLOW_ALL" && ACTIVE.has((await this.store.runStatus(progress.lastRunId, tx)) ?? "");

    // A fire held back (BUFFER_ONE) starts once the run before it has ended.
    if (progress.bufferedFireAt > 0 && !(await previousActive())) {
      const runId = await this.startRun(s, progress.bufferedFireAt, now);
      if (runId) progress.lastRunId = runId;
      progress.bufferedFireAt = 0;
    }

    // Fire times missed beyond the catch-up window are skipped, counted.
    const windowMs = s.runCatchupScheduleInstances ? Math.max(ON_TIME_MS, (s.catchupWindowSeconds ?? DEFAULT_CATCHUP_WINDOW_SECONDS) * 1000) : ON_TIME_MS;
    let t: number | undefined = progress.nextFireAt || undefined;
    let counted = 0;
    // Only a fire time before the window's start can be missed (its run is due at it, or after by its jitter).
    const missed = t === undefined ? [] : await fireTimesBetween(times, t - 1, now - windowMs, MAX_COUNTED_MISSES);
    while (counted < missed.length && now - times.dueAt(missed[counted]!) > windowMs) counted++;
    if (counted > 0) t = counted < missed.length ? missed[counted] : times.after(missed[counted - 1]!);
    if (counted === MAX_COUNTED_MISSES && t !== undefined && now - times.dueAt(t) > windowMs) {
      const jumped = times.after(now - windowMs - 1); // the first fire time the window holds
      if (s.intervalSeconds !== undefined && jumped !== undefined) counted += (jumped - t) / (s.intervalSeconds * 1000);
      t = jumped;
    }
    progress.skippedFires += counted;
    if (counted > 0) this.log.info({ schedule: row.name, missed: counted }, "schedule: fire times missed beyond the catch-up window were skipped");

    for (let fired = 0; t !== undefined && times.dueAt(t) <= now && fired < MAX_FIRES_PER_PASS; fired++) {
      progress.lastFireAt = t;
      if (await previousActive()) {
        if (policy === "SKIP") {
          progress.skippedFires++;
        } else if (policy === "BUFFER_ONE") {
          if (progress.bufferedFireAt === 0) progress.bufferedFireAt = t;
          else progress.skippedFires++;
        } else if (policy === "TERMINATE_PREVIOUS") {
          await this.engine
            .handle(progress.lastRunId, { kind: "terminate", reason: `schedule ${row.name}: terminated for the run of ${new Date(t).toISOString()}` })
            .catch((error: unknown) => {
              // Already ended meanwhile: nothing to terminate.
              if (!(error instanceof Refusal)) throw error;
            });
          const runId = await this.startRun(s, t, now);
          if (runId) progress.lastRunId = runId;
        }
      } else {
        const runId = await this.startRun(s, t, now);
        if (runId) progress.lastRunId = runId;
        else progress.skippedFires++;
      }
      t = times.after(t);
    }
    progress.nextFireAt = t ?? 0;
    const nextDue = t === undefined ? 0 : times.dueAt(t);
    // A buffered fire is looked at on every sweep until the run before it ends.
    progress.dueAt = progress.bufferedFireAt > 0 ? (nextDue === 0 ? now : Math.min(nextDue, now)) : nextDue;
    return progress;
  }

  /** A busy server or a lost database ends the pass (every schedule would fail alike); anything else puts off this schedule only. */
  private failed(row: ScheduleRow, error: unknown, now: number): number {
    if (error instanceof Overloaded || isConnectionError(error)) throw error;
    this.log.warn({ schedule: row.name, err: error }, `schedule: firing failed; tried again in ${RETRY_MS / 1000} s`);
    return now + RETRY_MS;
  }

  /** Starts the run of fire time `fireMs` (or finds the one started already); undefined when the workflow is gone. */
  async startRun(s: WorkflowSchedule, fireMs: number, now: number, key = idempotencyKeyOf(s.name, fireMs)): Promise<string | undefined> {
    const request = s.startWorkflowRequest;
    try {
      const started = await this.engine.start({
        name: request.name,
        ...(request.version !== undefined ? { version: request.version } : {}),
        input: { ...(request.input ?? {}), _scheduledTime: fireMs, _executedTime: now, _scheduleName: s.name } as never,
        ...(request.correlationId ? { correlationId: request.correlationId } : {}),
        ...(request.priority !== undefined ? { priority: request.priority } : {}),
        idempotencyKey: key,
      });
      return started.runId;
    } catch (error) {
      // The workflow (or its version) no longer exists: this fire starts nothing; later ones try again.
      if (error instanceof Refusal && (error.code === "NOT_FOUND" || error.code === "INVALID_ARGUMENT")) {
        this.log.warn({ schedule: s.name, fireTime: fireMs, err: error }, "schedule: the run could not be started");
        return undefined;
      }
      throw error;
    }
  }
}
