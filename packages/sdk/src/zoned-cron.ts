// A cron expression's fire times in an IANA time zone, across daylight saving
// as cron does it. croner matches the expression against wall-clock times (it
// is given UTC, so it does no zone arithmetic); this file turns each wall time
// into the instants it happens at:
// - a wall time the clock skips (spring forward) happens once, as much later
//   as the clock jumped (02:30 at 03:30), as Java's zoned times do;
// - a wall time the clock shows twice (fall back) fires the first time; and the
//   second time too when the expression fires every hour (its hour field `*`
//   or a step such as `*/2`, or @hourly), since each of those hours is an hour
//   of real time (Vixie cron's rule). croner alone fired an hourly schedule
//   once in the hour shown twice, two hours of real time apart.
import { Cron } from "croner";

const HOUR_MS = 3_600_000;
/** Wider than any two zone transitions are apart, and than any jump of the clock. */
const NEAR_MS = 26 * HOUR_MS;

const formats = new Map<string, Intl.DateTimeFormat>();

/** The zone's offset from UTC at instant `t` (ms; Paris in summer: +2 h). */
function offsetAt(zone: string, t: number): number {
  let format = formats.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formats.set(zone, format);
  }
  const p: Record<string, number> = {};
  for (const part of format.formatToParts(t)) if (part.type !== "literal") p[part.type] = Number(part.value);
  const wall = Date.UTC(p["year"]!, p["month"]! - 1, p["day"]!, p["hour"]!, p["minute"]!, p["second"]!);
  return wall - (t - (((t % 1000) + 1000) % 1000));
}

/** Whether the expression fires in every hour (or every nth): its hour field is `*` or a step of it, or it is @hourly. */
function firesEveryHour(expression: string): boolean {
  const fields = expression.trim().split(/\s+/);
  if (fields.length === 1) return fields[0]!.toLowerCase() === "@hourly";
  const hour = fields[fields.length >= 6 ? 2 : 1] ?? "";
  return hour.startsWith("*") || hour === "?";
}

/** The first instant of the zone's offset at `hi` (epoch ms), the clock having changed once in (lo, hi]. */
function changeAt(zone: string, lo: number, hi: number): number {
  const first = offsetAt(zone, lo);
  while (hi - lo > 1) {
    const mid = lo + Math.floor((hi - lo) / 2);
    if (offsetAt(zone, mid) === first) lo = mid;
    else hi = mid;
  }
  return hi;
}

export class ZonedCron {
  private readonly wall: Cron;
  private readonly everyHour: boolean;
  private readonly utc: boolean;

  constructor(
    expression: string,
    private readonly zone: string,
  ) {
    this.wall = new Cron(expression, { paused: true, timezone: "UTC" });
    this.everyHour = firesEveryHour(expression);
    this.utc = zone === "UTC";
  }

  /** The first fire time strictly after `t` (epoch ms), or undefined when there is none. */
  after(t: number): number | undefined {
    if (this.utc) return this.next(t);
    const now = offsetAt(this.zone, t);
    const from = t + now; // the wall time shown at t
    const best = this.firstAfter(from, t);
    if (!this.everyHour) return best;
    // The clock falls back within the hours ahead, and shows again an hour before `from` (the second showing starts
    // at most as far ahead as it falls back): its wall times fire again, from the start of the second showing.
    const later = offsetAt(this.zone, t + 3 * HOUR_MS);
    if (later >= now || offsetAt(this.zone, t + (now - later)) !== later) return best;
    const again = this.firstAfter(changeAt(this.zone, t, t + (now - later)) + later - 1, t);
    return again !== undefined && (best === undefined || again < best) ? again : best;
  }

  /** Going through wall times after `fromWall`, the first instant after `t` one of them fires at. */
  private firstAfter(fromWall: number, t: number): number | undefined {
    for (let x = this.next(fromWall); x !== undefined; x = this.next(x)) {
      const fires = this.instants(x).filter((u) => u > t);
      if (fires.length > 0) return fires[0];
    }
    return undefined;
  }

  private next(wall: number): number | undefined {
    try {
      return this.wall.nextRun(new Date(wall))?.getTime();
    } catch (error) {
      // croner searches a pattern that matches no date (April 31) by recursion and may overflow the stack.
      if (error instanceof RangeError) return undefined;
      throw error;
    }
  }

  /** The instants at which wall time `x` fires, in order: one, or both showings of an hour the clock shows twice. */
  private instants(x: number): number[] {
    const before = offsetAt(this.zone, x - NEAR_MS);
    const after = offsetAt(this.zone, x + NEAR_MS);
    if (before === after) return [x - before];
    const shown = [x - before, x - after].filter((u) => offsetAt(this.zone, u) === x - u).sort((a, b) => a - b);
    if (shown.length === 0) return [x - before]; // skipped by the clock: as much later as it jumped
    return this.everyHour ? shown : shown.slice(0, 1);
  }
}
