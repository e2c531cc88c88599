// Limits on user code (scripts, jq, JSON Schemas, JSONPath filters) count the
// CPU time of the thread that runs it, not wall time: on a busy machine a
// thread waits for a core, and a well-behaved script would otherwise be
// stopped for time it never had. Linux shows each thread's CPU time in
// /proc; there a wall-clock backstop, several times the limit, still ends
// code whose thread hardly runs at all. Where CPU time is not shown, the
// limit is wall time, as before.
import { closeSync, openSync, readlinkSync, readSync } from "node:fs";

/** How many times its limit a request may run by the wall clock when its limit counts CPU time. */
export const WALL_BACKSTOP_FACTOR = 10;
/** The most wall time a backstop allows: under an evaluation's 60 s lease, so that no replica asks again for code still running. */
export const WALL_BACKSTOP_MAX_MS = 50_000;
/** /proc counts CPU time in ticks of USER_HZ, 100 a second on every architecture Node runs on. */
const MS_PER_TICK = 10;

/** Why a limit stopped code: its CPU time; the wall-clock backstop (its thread hardly ran); or wall time, where CPU time is not shown. */
export type Overrun = "cpu" | "backstop" | "wall";

const buffer = Buffer.alloc(1024);

/** utime + stime of a thread's /proc stat file, in ms; undefined when it cannot be read (not Linux, or the thread is gone). */
function statCpuMs(path: string): number | undefined {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch {
    return undefined;
  }
  try {
    const text = buffer.toString("latin1", 0, readSync(fd, buffer, 0, buffer.length, 0));
    // The command name, in parentheses, may hold spaces; after it come the fields from the 3rd on: utime is the 14th, stime the 15th.
    const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
    const ms = (Number(fields[11]) + Number(fields[12])) * MS_PER_TICK;
    return Number.isFinite(ms) ? ms : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

let shown = process.platform === "linux";

/** The calling thread's CPU time (user and system, ms), where the platform shows it. */
export function threadCpuMs(): number | undefined {
  if (!shown) return undefined;
  const ms = statCpuMs("/proc/thread-self/stat");
  if (ms === undefined) shown = false;
  return ms;
}

/** The CPU time (ms) of thread `tid` of this process, where the platform shows it. */
export function taskCpuMs(tid: number): number | undefined {
  return shown ? statCpuMs(`/proc/self/task/${tid}/stat`) : undefined;
}

/** The calling thread's id as the kernel knows it (Linux), for another thread to read its CPU time. */
export function threadId(): number | undefined {
  if (!shown) return undefined;
  try {
    return Number(/task\/(\d+)$/.exec(readlinkSync("/proc/thread-self"))?.[1]) || undefined;
  } catch {
    return undefined;
  }
}

/** Milliseconds since the epoch, fine-grained and the same in every thread. */
export const wallMs = (): number => performance.timeOrigin + performance.now();

/** Where a thread's code started: the wall clock, and the thread's CPU time then (undefined where not shown). */
export interface Start {
  wallMs: number;
  cpuMs: number | undefined;
}

/** The calling thread's start mark, for a deadline counted from now. */
export function startNow(): Start {
  return { wallMs: wallMs(), cpuMs: threadCpuMs() };
}

/** The wall time after which code limited to `limitMs` of CPU time is stopped anyway. */
export function backstopMs(limitMs: number): number {
  return Math.max(limitMs, Math.min(limitMs * WALL_BACKSTOP_FACTOR, WALL_BACKSTOP_MAX_MS));
}

/** Reads the CPU time of the thread a deadline is about. */
export type CpuClock = () => number | undefined;

/** At least this long between reads of the CPU time: its resolution. */
const MIN_READ_GAP_MS = MS_PER_TICK;

/**
 * A limit on the CPU time a thread spends from its start. CPU time never runs
 * ahead of wall time, so the CPU clock (a system call) is read only once the
 * wall clock says the limit could have been used up, and then again only once
 * what was left of it could have been: a thread that runs all the time is
 * read about once, one that waits for a core a few times. Past the backstop
 * in wall time it is over regardless. Where the CPU time is not shown, the
 * limit is wall time.
 */
export class CpuDeadline {
  private readonly backstopMs: number;
  /** Wall ms from the start before which the limit cannot have been reached. */
  private nextCheck: number;
  private cpuStart: number | undefined;

  private readonly wall: () => number;

  /** `options` for tests: another wall clock, another backstop. */
  constructor(
    readonly limitMs: number,
    private readonly start: Start,
    private readonly cpu: CpuClock,
    options: { wall?: () => number; backstopMs?: number } = {},
  ) {
    this.cpuStart = start.cpuMs;
    this.backstopMs = this.cpuStart === undefined ? limitMs : (options.backstopMs ?? backstopMs(limitMs));
    this.nextCheck = limitMs;
    this.wall = options.wall ?? wallMs;
  }

  /** Whether the limit is passed, and by which clock; undefined while it is not. */
  overrun(): Overrun | undefined {
    const elapsed = this.wall() - this.start.wallMs;
    if (elapsed <= this.nextCheck) return undefined;
    if (this.cpuStart === undefined) return "wall";
    if (elapsed > this.backstopMs) return "backstop";
    const now = this.cpu();
    // The thread's CPU time could not be read (it is gone): the wall clock decides, at the limit.
    if (now === undefined) return "wall";
    const left = this.limitMs - (now - this.cpuStart);
    if (left < 0) return "cpu";
    this.nextCheck = Math.min(elapsed + Math.max(left, MIN_READ_GAP_MS), this.backstopMs);
    return undefined;
  }
}

/**
 * What the code did, said after its subject ("the script ...", "jq ..."),
 * `limitMs` being the limit the user knows.
 */
export function overrunText(overrun: Overrun, limitMs: number): string {
  switch (overrun) {
    case "cpu":
      return `used more than its ${limitMs} ms of CPU time`;
    case "backstop":
      return `was still running after ${backstopMs(limitMs)} ms by the wall clock, short of its ${limitMs} ms of CPU time (the machine is too busy to run it)`;
    case "wall":
      return `ran longer than its ${limitMs} ms limit`;
  }
}
