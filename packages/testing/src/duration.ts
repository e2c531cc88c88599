// Durations for moving the test clock: milliseconds, or text such as "3d",
// "1h 30m", "2 days", "250ms" (the units a WAIT's `duration` takes, plus weeks).
import { DURATION_UNITS, readDuration } from "@baton/sdk";

const UNITS: Record<string, number> = { ...DURATION_UNITS, w: 604_800_000, week: 604_800_000, weeks: 604_800_000 };

/** A duration: milliseconds, or text like "3d", "1h 30m", "2 days". */
export type Duration = number | string;

/** Milliseconds in `duration`. Throws on a negative number or text it cannot read. */
export function toMillis(duration: Duration): number {
  if (typeof duration === "number") {
    if (!Number.isFinite(duration) || duration < 0) throw new RangeError(`a duration must be a finite number of milliseconds >= 0, not ${duration}`);
    return duration;
  }
  const reading = readDuration(duration.trim(), UNITS);
  if ("unreadable" in reading) {
    throw new RangeError(`cannot read the duration ${JSON.stringify(duration)}: use e.g. "3d", "1h 30m", "250ms" or a number of milliseconds`);
  }
  if ("unknownUnit" in reading) throw new RangeError(`unknown unit ${JSON.stringify(reading.unknownUnit)} in the duration ${JSON.stringify(duration)}`);
  return Math.round(reading.ms);
}
