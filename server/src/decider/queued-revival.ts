// An ended run brought back (retry, restart, rerun, or its child's revival)
// while its concurrency key is at its limit waits like a start over the
// limit: RUNNING with nothing scheduled and its reason saying why, the
// revival kept in the run's marks until a slot frees ('admit') and, if the
// run was paused meanwhile, until it is resumed; then the run is put back as
// it ended and the revival is applied to it. A child revived runs at once:
// its end, if it comes while its parent waits, is kept with the revival and
// applied after it.
import type { RunEvent } from "./contract.js";
import type { HeldRevival, RunState } from "./model.js";

type Revival = Extract<RunEvent, { kind: "retry" | "restart" | "rerun" | "childRevived" }>;
type ChildEnded = Extract<RunEvent, { kind: "childEnded" }>;

/** What a waiting run keeps of its revival and of how it had ended. */
interface Held extends HeldRevival {
  event: Revival;
  /** The revived child's end, come while the run waited. */
  childEnded?: ChildEnded;
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

/** The run runs again: back as it had ended (its marks no longer holding the revival); returns the events to apply, in order. */
export function restore(run: RunState, held: HeldRevival): RunEvent[] {
  const { event, status, reason, endedAt, failedTaskId, childEnded } = held as Held;
  Object.assign(run, { status, reason, endedAt, failedTaskId } satisfies Partial<RunState>);
  return childEnded ? [event, childEnded] : [event];
}

/** Whether `event` is the end of the child whose revival the run holds: kept with it (true), to be applied after it. */
export function keepChildEnded(run: RunState, event: ChildEnded): boolean {
  const held = run.marks.revival as Held | undefined;
  if (held?.event.kind !== "childRevived" || held.event.childId !== event.childId) return false;
  run.marks = { ...run.marks, revival: { ...held, childEnded: event } as Held };
  return true;
}

/** Whether the child whose revival the run holds was revived again: its end kept meanwhile is void (true). */
export function childRunsAgain(run: RunState, event: Extract<RunEvent, { kind: "childRevived" }>): boolean {
  const held = run.marks.revival as Held | undefined;
  if (held?.event.kind !== "childRevived" || held.event.childId !== event.childId) return false;
  const { childEnded: _ended, ...rest } = held;
  run.marks = { ...run.marks, revival: rest };
  return true;
}
