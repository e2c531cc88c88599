// Schedules: a workflow started on a cron expression or a fixed interval.
// The JSON is Conductor's WorkflowSchedule (name, cronExpression, zoneId,
// startWorkflowRequest, paused, runCatchupScheduleInstances,
// scheduleStartTime, scheduleEndTime) plus Baton's optional fields
// (intervalSeconds, jitterSeconds, overlapPolicy, catchupWindowSeconds).
// Validation names every bad field with its JSON pointer and never throws;
// fire times come from croner, in their time zone, across daylight saving as
// cron does it (cronOf).
import { NOTE_CHARS, quoted, shortened } from "@baton/json";
import { Cron } from "croner";
import type { ValidationIssue, ValidationResult } from "./validation/issue.js";
import { pointer } from "./validation/pointer.js";
import { isObj } from "./validation/tree.js";
import { charsOverNameLimit, MAX_NAME_CHARS } from "./names.js";

export const OVERLAP_POLICIES = ["ALLOW_ALL", "SKIP", "BUFFER_ONE", "TERMINATE_PREVIOUS"] as const;
export type OverlapPolicy = (typeof OVERLAP_POLICIES)[number];

export interface ScheduleStartRequest {
  /** The workflow to start. */
  name: string;
  /** Latest when absent. */
  version?: number;
  input?: Record<string, unknown>;
  correlationId?: string;
  priority?: number;
}

export interface WorkflowSchedule {
  name: string;
  /** Cron, five fields, six with seconds first (`0 30 2 * * *`) or seven with a year last, or a nickname (`@daily`). */
  cronExpression?: string;
  /** A fixed interval instead of cron: fire times are scheduleStartTime (or the epoch) plus multiples of it. */
  intervalSeconds?: number;
  /** IANA time zone the cron expression is read in (default UTC). */
  zoneId?: string;
  startWorkflowRequest: ScheduleStartRequest;
  paused?: boolean;
  /** Fire times missed while no server ran are started (within catchupWindowSeconds) instead of skipped. */
  runCatchupScheduleInstances?: boolean;
  /** How far back missed fire times are caught up (default one day). */
  catchupWindowSeconds?: number;
  /** No fire before this instant (epoch ms). */
  scheduleStartTime?: number;
  /** No fire after this instant (epoch ms). */
  scheduleEndTime?: number;
  /** Each run starts up to this many seconds after its fire time (the same delay for a given fire time, on every replica). */
  jitterSeconds?: number;
  /** While the previous run of this schedule is still running (default ALLOW_ALL, as in Conductor). */
  overlapPolicy?: OverlapPolicy;
  description?: string;
}

const NAME = /^[A-Za-z0-9_.-]{1,128}$/;

/** The fields a schedule reads, Conductor's and Baton's. */
const FIELDS = [
  "name",
  "description",
  "cronExpression",
  "intervalSeconds",
  "zoneId",
  "startWorkflowRequest",
  "paused",
  "runCatchupScheduleInstances",
  "catchupWindowSeconds",
  "scheduleStartTime",
  "scheduleEndTime",
  "jitterSeconds",
  "overlapPolicy",
];
/** Conductor's (Orkes') bookkeeping fields, in its exported schedules, and an editor's `$schema`: kept, not read. */
const CONDUCTOR_BOOKKEEPING = ["createTime", "createdBy", "updatedTime", "updatedBy", "pausedReason", "tags", "$schema"];
const REQUEST_FIELDS = ["name", "version", "input", "correlationId", "priority"];
/** Accepted and ignored, as on a start (Baton has no task domains). */
const REQUEST_IGNORED = ["taskToDomain"];
/** Other names a field is written with: the TypeScript option `timeZone`, and a few guesses. */
const ALIASES: Record<string, string> = { timezone: "zoneId", tz: "zoneId", zone: "zoneId", cron: "cronExpression", inputs: "input" };

/**
 * A field a schedule does not read is refused rather than dropped: a `timeZone` where `zoneId` belongs would have the
 * schedule fire in UTC without a word.
 */
function unknownFields(o: Record<string, unknown>, at: string, known: string[], kept: string[], err: (path: string, message: string) => void): void {
  for (const key of Object.keys(o)) {
    if (known.includes(key) || kept.includes(key)) continue;
    const lower = key.toLowerCase();
    const guess = known.find((k) => k.toLowerCase() === lower) ?? (ALIASES[lower] !== undefined && known.includes(ALIASES[lower]) ? ALIASES[lower] : undefined);
    err(
      pointer(at, key),
      guess ? `unknown field; did you mean ${guess}?` : `unknown field; ${at === "" ? "a schedule" : "startWorkflowRequest"} has ${known.join(", ")}`,
    );
  }
}
const MAX_JITTER_SECONDS = 24 * 3600;
/** A fire later than this is "missed" (a server was down), not merely a slow sweep. */
export const ON_TIME_MS = 60_000;
export const DEFAULT_CATCHUP_WINDOW_SECONDS = 24 * 3600;

/** Whether `zone` is an IANA time zone this runtime knows. */
export function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

function isNonNegativeInt(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

/**
 * How long a cron expression may be. Parsing one costs time in its length
 * (croner: 37 ms for 280,000 characters), paid when the schedule is checked
 * and each time its fire times are computed afresh: three schedules of a
 * 2.8 MB list of minutes held the server's event loop 0.6 s being created.
 * Every field listed value by value is under 400 characters.
 */
export const MAX_CRON_CHARS = 1000;

/**
 * A cron expression as every schedule reads it, in IANA time zone `zone`. Across daylight saving croner follows
 * Vixie cron: a fixed-time expression (no `*` or step in its seconds, minutes and hours, e.g. `30 2 * * *` or
 * `0 9,17 * * *`) fires at the end of a gap the clock skips its time in, and once, the first time, when the clock shows
 * its time twice; any other fires at each time the clock shows, in both showings of an hour shown twice and never in
 * a skipped one. `fixedTimeRule: "no-wildcard"` makes lists and ranges fixed times, as in cron (croner's default
 * counts only single values); `sloppyRanges` keeps accepting Quartz's `0/15`, common in Conductor's schedules.
 */
function cronOf(expression: string, zone: string): Cron {
  return new Cron(expression, { paused: true, timezone: zone, fixedTimeRule: "no-wildcard", sloppyRanges: true });
}

/** Every problem with a schedule, each with its JSON pointer. Never throws. */
export function validateSchedule(value: unknown): ValidationResult {
  const errors: ValidationIssue[] = [];
  const warnings: ValidationIssue[] = [];
  const err = (path: string, message: string) => errors.push({ path, message });
  if (!isObj(value)) {
    err("", "a schedule must be a JSON object");
    return { errors, warnings };
  }
  const s = value as Record<string, unknown>;
  unknownFields(s, "", FIELDS, CONDUCTOR_BOOKKEEPING, err);
  if (typeof s["name"] !== "string" || !NAME.test(s["name"])) err("/name", "name is required: 1-128 letters, digits, '_', '.' or '-'");

  const cron = s["cronExpression"];
  const interval = s["intervalSeconds"];
  if (cron === undefined && interval === undefined) err("/cronExpression", "a schedule needs cronExpression or intervalSeconds");
  if (cron !== undefined && interval !== undefined) err("/intervalSeconds", "give cronExpression or intervalSeconds, not both");
  const zone = s["zoneId"];
  if (zone !== undefined && (typeof zone !== "string" || !isTimeZone(zone))) {
    err("/zoneId", `unknown time zone ${quoted(zone)}: use an IANA name such as "Europe/Paris" or "UTC"`);
  }
  if (cron !== undefined) {
    if (typeof cron !== "string" || cron.trim() === "") err("/cronExpression", "cronExpression must be a non-empty string");
    else if (cron.length > MAX_CRON_CHARS)
      err(
        "/cronExpression",
        `cronExpression is ${cron.length} characters long, over the ${MAX_CRON_CHARS} a cron expression may have: use ranges and steps (0-30/5) rather than long lists`,
      );
    else {
      let parsed: Cron | undefined;
      try {
        parsed = cronOf(cron, typeof zone === "string" && isTimeZone(zone) ? zone : "UTC");
      } catch (error) {
        err(
          "/cronExpression",
          `invalid cron expression ${quoted(cron)}: ${shortened((error as Error).message.replace(/^CronPattern: /, ""), NOTE_CHARS)} (five fields; six with seconds first; seven with a year last)`,
        );
      }
      if (parsed && parsed.nextRun() === null) {
        err("/cronExpression", `cron expression ${quoted(cron)} matches no date (such as the 31st of a 30-day month): check its day and month fields`);
      }
    }
  }
  if (interval !== undefined && (!isNonNegativeInt(interval) || interval < 1))
    err("/intervalSeconds", "intervalSeconds must be a whole number of seconds, at least 1");

  const request = s["startWorkflowRequest"];
  if (!isObj(request)) err("/startWorkflowRequest", "startWorkflowRequest is required: {name, version?, input?, correlationId?, priority?}");
  else {
    const r = request as Record<string, unknown>;
    unknownFields(r, "/startWorkflowRequest", REQUEST_FIELDS, REQUEST_IGNORED, err);
    if (typeof r["name"] !== "string" || r["name"].trim() === "") err("/startWorkflowRequest/name", "the workflow's name is required");
    if (r["version"] !== undefined && (!isNonNegativeInt(r["version"]) || r["version"] < 1))
      err("/startWorkflowRequest/version", "version must be a positive whole number (absent: the latest)");
    if (r["input"] !== undefined && !isObj(r["input"])) err("/startWorkflowRequest/input", "input must be a JSON object");
    if (r["correlationId"] !== undefined && typeof r["correlationId"] !== "string")
      err("/startWorkflowRequest/correlationId", "correlationId must be a string");
    else if (typeof r["correlationId"] === "string" && charsOverNameLimit(r["correlationId"]) > 0)
      err("/startWorkflowRequest/correlationId", `correlationId is longer than ${MAX_NAME_CHARS} characters`);
    if (r["priority"] !== undefined && (!isNonNegativeInt(r["priority"]) || r["priority"] > 99))
      err("/startWorkflowRequest/priority", "priority must be a whole number from 0 to 99");
  }
  for (const key of ["paused", "runCatchupScheduleInstances"]) {
    if (s[key] !== undefined && typeof s[key] !== "boolean") err(`/${key}`, `${key} must be true or false`);
  }
  for (const key of ["scheduleStartTime", "scheduleEndTime", "catchupWindowSeconds"]) {
    if (s[key] !== undefined && !isNonNegativeInt(s[key]))
      err(`/${key}`, `${key} must be a non-negative whole number${key.endsWith("Time") ? " (epoch milliseconds)" : ""}`);
  }
  if (isNonNegativeInt(s["scheduleStartTime"]) && isNonNegativeInt(s["scheduleEndTime"]) && s["scheduleEndTime"] <= s["scheduleStartTime"]) {
    err("/scheduleEndTime", "scheduleEndTime must be after scheduleStartTime");
  }
  const jitter = s["jitterSeconds"];
  if (jitter !== undefined && (!isNonNegativeInt(jitter) || jitter > MAX_JITTER_SECONDS))
    err("/jitterSeconds", `jitterSeconds must be a whole number from 0 to ${MAX_JITTER_SECONDS}`);
  const overlap = s["overlapPolicy"];
  if (overlap !== undefined && !(OVERLAP_POLICIES as readonly unknown[]).includes(overlap)) {
    err("/overlapPolicy", `overlapPolicy must be one of ${OVERLAP_POLICIES.join(", ")}`);
  }
  if (s["description"] !== undefined && typeof s["description"] !== "string") err("/description", "description must be a string");
  return { errors, warnings };
}

/** The fire times of one (valid) schedule. Keeps its timing fields only, not the start request. */
export class FireTimes {
  private readonly cron: Cron | undefined;
  private readonly stepMs: number;
  private readonly startMs: number;
  private readonly endMs: number;
  private readonly name: string;
  private readonly jitterMs: number;

  constructor(schedule: WorkflowSchedule) {
    this.name = schedule.name;
    this.jitterMs = (schedule.jitterSeconds ?? 0) * 1000;
    this.cron = schedule.cronExpression !== undefined ? cronOf(schedule.cronExpression, schedule.zoneId ?? "UTC") : undefined;
    this.stepMs = (schedule.intervalSeconds ?? 0) * 1000;
    this.startMs = schedule.scheduleStartTime ?? 0;
    this.endMs = schedule.scheduleEndTime ?? Number.MAX_SAFE_INTEGER;
  }

  /** The first fire time strictly after `afterMs`, or undefined past the end. */
  after(afterMs: number): number | undefined {
    let next: number | undefined;
    if (this.cron) {
      const from = Math.max(afterMs, this.startMs - 1);
      next = this.cron.nextRun(new Date(from))?.getTime();
    } else if (afterMs < this.startMs) {
      next = this.startMs;
    } else {
      next = this.startMs + (Math.floor((afterMs - this.startMs) / this.stepMs) + 1) * this.stepMs;
    }
    return next !== undefined && next <= this.endMs ? next : undefined;
  }

  /** When the run of fire time `fireMs` starts: the same delay in [0, jitter) for a given schedule and fire time, on every replica. */
  dueAt(fireMs: number): number {
    const { jitterMs } = this;
    if (jitterMs <= 0) return fireMs;
    // FNV-1a over the name and fire time: stable, well spread, no crypto needed.
    let h = 0x811c9dc5;
    for (const ch of `${this.name}@${fireMs}`) h = Math.imul(h ^ ch.charCodeAt(0), 0x01000193) >>> 0;
    return fireMs + (h % jitterMs);
  }
}

const SCHEDULE_BRAND = Symbol.for("baton.schedule");

/** A schedule declared in TypeScript beside its flows; `baton publish` registers it. */
export class Schedule {
  readonly [SCHEDULE_BRAND] = true;
  constructor(private readonly json: WorkflowSchedule) {}

  get name(): string {
    return this.json.name;
  }

  /** True for any Schedule, also one made by another copy of this package. */
  static is(value: unknown): value is Schedule {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[SCHEDULE_BRAND] === true;
  }

  toJSON(): WorkflowSchedule {
    return structuredClone(this.json);
  }

  validate(): ValidationResult {
    return validateSchedule(this.json);
  }
}

type FlowLike = { name: string; version: number; types?: { input: unknown; output: unknown } };
type InputOf<F> = F extends { types?: { input: infer I } } ? I : Record<string, unknown>;

export type ScheduleOptions<F> = Omit<WorkflowSchedule, "name" | "startWorkflowRequest" | "zoneId"> & {
  /** IANA time zone (default UTC). */
  timeZone?: string;
  /** The run's input (each run also gets `_scheduledTime` and `_executedTime`). */
  input?: Partial<InputOf<F>> & Record<string, unknown>;
  correlationId?: string;
  priority?: number;
  /** Pin the flow's version (default: the latest registered when the schedule fires). */
  pinVersion?: boolean;
};

/**
 * A schedule for a flow, exported from a flow file:
 * `export const nightly = schedule("nightly_report", report, { cronExpression: "0 2 * * *", timeZone: "Europe/Paris" })`.
 */
export function schedule<F extends FlowLike>(name: string, flow: F, options: ScheduleOptions<F>): Schedule {
  const { timeZone, input, correlationId, priority, pinVersion, ...rest } = options;
  const request: ScheduleStartRequest = {
    name: flow.name,
    ...(pinVersion ? { version: flow.version } : {}),
    ...(input !== undefined ? { input: input as Record<string, unknown> } : {}),
    ...(correlationId !== undefined ? { correlationId } : {}),
    ...(priority !== undefined ? { priority } : {}),
  };
  return new Schedule({ name, ...rest, ...(timeZone !== undefined ? { zoneId: timeZone } : {}), startWorkflowRequest: request });
}
