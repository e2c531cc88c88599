// An ended run brought back (retry, restart, rerun) while its concurrency
// key is at its limit waits like a start over the limit: RUNNING with
// nothing scheduled and its reason saying why, the revival kept in the run's
// marks until a slot frees ('admit'), when the run is put back as it ended
// and the revival is applied to it then.
import type { RunEvent } from "./contract.js";
import type { HeldRevival, RunState } from "./model.js";

type Revival = Extract<RunEvent, { kind: "retry" | "restart" | "rerun" }>;

/** What a waiting run keeps of its revival and of how it had ended. */
interface Held extends HeldRevival {
  event: Revival;
}

/** The run waits for a slot with `revival` held; `reason` says why. Its workflow timeout counts from `now`, as a retry's does. */
export function hold(run: RunState, revival: Revival, reason: string, now: number): void {
  let event: Revival = revival;
  if (revival.kind === "restart") {
    // A restart on the latest definition takes it now (the definition's graph is not stored): the run points at it while it waits.
    if (revival.def) {
      run.defHash = revival.def.hash;
      run.version = revival.def.version;
    }
    event = { kind: "restart", useLatest: false };
  }
  const held: Held = { event, status: run.status, reason: run.reason, endedAt: run.endedAt, failedTaskId: run.failedTaskId };
  run.marks = { ...run.marks, admission: "queued", revival: held, lastRetriedAt: now };
  Object.assign(run, { status: "RUNNING", reason, endedAt: 0 } satisfies Partial<RunState>);
}

/** The run admitted: back as it had ended (its marks no longer holding the revival); returns the revival to apply. */
export function restore(run: RunState, held: HeldRevival): RunEvent {
  const { event, status, reason, endedAt, failedTaskId } = held as Held;
  Object.assign(run, { status, reason, endedAt, failedTaskId } satisfies Partial<RunState>);
  return event;
}
