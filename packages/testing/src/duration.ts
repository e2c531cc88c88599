// Durations for moving the test clock: milliseconds, or text such as "3d",
// "1h 30m", "2 days", "250ms" (the units a WAIT's `duration` takes, plus weeks).

const UNITS: Record<string, number> = {
  ms: 1,
  s: 1000, sec: 1000, secs: 1000, second: 1000, seconds: 1000,
  m: 60_000, min: 60_000, mins: 60_000, minute: 60_000, minutes: 60_000,
  h: 3_600_000, hr: 3_600_000, hrs: 3_600_000, hour: 3_600_000, hours: 3_600_000,
  d: 86_400_000, day: 86_400_000, days: 86_400_000,
  w: 604_800_000, week: 604_800_000, weeks: 604_800_000,
};

/** A duration: milliseconds, or text like "3d", "1h 30m", "2 days". */
export type Duration = number | string;

/** Milliseconds in `duration`. Throws on a negative number or text it cannot read. */
export function toMillis(duration: Duration): number {
  if (typeof duration === "number") {
    if (!Number.isFinite(duration) || duration < 0) throw new RangeError(`a duration must be a finite number of milliseconds >= 0, not ${duration}`);
    return duration;
  }
  const text = duration.trim();
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)\s*([a-zA-Z]+)/g)];
  const consumed = parts.map((p) => p[0]).join("").replace(/\s/g, "");
  if (parts.length === 0 || consumed !== text.replace(/\s/g, "")) {
    throw new RangeError(`cannot read the duration ${JSON.stringify(duration)}: use e.g. "3d", "1h 30m", "250ms" or a number of milliseconds`);
  }
  let total = 0;
  for (const [, amount, unit] of parts) {
    const factor = UNITS[unit!.toLowerCase()];
    if (factor === undefined) throw new RangeError(`unknown unit ${JSON.stringify(unit)} in the duration ${JSON.stringify(duration)}`);
    total += Number(amount) * factor;
  }
  return Math.round(total);
}
