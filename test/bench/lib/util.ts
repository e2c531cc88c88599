// Small helpers shared by the bench: clocks, percentiles, processes, caches.
import { spawn, type ChildProcess, type SpawnOptions } from "node:child_process";
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, homedir, loadavg } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");

/** Monotonic milliseconds with sub-millisecond resolution. */
export const nowMs = (): number => performance.now();

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * Wall-clock milliseconds with sub-millisecond resolution, comparable with
 * another process's Date.now() on this machine. performance.now() is anchored
 * to the instant Date.now() ticks over (spinning at most ~1 ms), so the offset
 * is exact to a few microseconds; call `anchorWallClock()` again before each
 * measurement so a slewed wall clock cannot drift the figures.
 */
let wallOffset = Date.now() - performance.now();
export function anchorWallClock(): void {
  const start = Date.now();
  let t = Date.now();
  while (t === start) t = Date.now();
  wallOffset = t - performance.now();
}
export const wallMs = (): number => performance.now() + wallOffset;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

export interface Distribution {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function distribution(values: number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p90: round(percentile(sorted, 90)),
    p99: round(percentile(sorted, 99)),
    max: round(sorted[sorted.length - 1] ?? Number.NaN),
    mean: round(sorted.length ? sum / sorted.length : Number.NaN),
  };
}

export const round = (n: number, digits = 3): number => (Number.isFinite(n) ? Number(n.toFixed(digits)) : n);

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const address = srv.address();
      srv.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}

/** Where peers' installs are kept between runs. */
export function cacheDir(...parts: string[]): string {
  const base = process.env["BATON_BENCH_CACHE"] ?? path.join(process.env["XDG_CACHE_HOME"] ?? path.join(homedir(), ".cache"), "baton-bench");
  const dir = path.join(base, ...parts);
  mkdirSync(dir, { recursive: true });
  return dir;
}

export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

/** Child processes the bench started, so an interrupted bench can take them down. */
const tracked = new Set<ChildProcess>();
export function track<T extends ChildProcess>(child: T): T {
  tracked.add(child);
  child.once("exit", () => tracked.delete(child));
  return child;
}
export function killTracked(): void {
  for (const child of tracked) child.kill("SIGKILL");
}

/** Runs a command to completion, capturing (the tail of) its output. */
export function runCommand(
  command: string,
  args: string[],
  options: SpawnOptions & { timeoutMs?: number; log?: (line: string) => void } = {},
): Promise<CommandResult> {
  return new Promise((resolve) => {
    const { timeoutMs, log, ...spawnOptions } = options;
    let stdout = "";
    let stderr = "";
    let timedOut = false;
    let child: ChildProcess;
    try {
      child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"], ...spawnOptions });
    } catch (error) {
      resolve({ code: null, stdout: "", stderr: String(error), timedOut: false });
      return;
    }
    const keep = (s: string, d: Buffer) => (s + d.toString()).slice(-200_000);
    child.stdout?.on("data", (d: Buffer) => {
      stdout = keep(stdout, d);
      log?.(d.toString());
    });
    child.stderr?.on("data", (d: Buffer) => {
      stderr = keep(stderr, d);
      log?.(d.toString());
    });
    const timer = timeoutMs
      ? setTimeout(() => {
          timedOut = true;
          child.kill("SIGKILL");
        }, timeoutMs)
      : undefined;
    child.on("error", (error) => {
      if (timer) clearTimeout(timer);
      resolve({ code: null, stdout, stderr: stderr + String(error), timedOut });
    });
    child.on("close", (code) => {
      if (timer) clearTimeout(timer);
      resolve({ code, stdout, stderr, timedOut });
    });
  });
}

/** Whether an executable is on PATH (or is an existing path). */
export function which(name: string): string | undefined {
  if (name.includes("/")) return existsSync(name) ? name : undefined;
  for (const dir of (process.env["PATH"] ?? "").split(":")) {
    const full = path.join(dir, name);
    if (dir && existsSync(full)) return full;
  }
  return undefined;
}

/** Resident set size of a process, in MB, from /proc (Linux). */
export function rssMb(pid: number): { rssMb: number; peakMb: number } | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, "utf8");
    const field = (name: string) => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? Number.NaN) / 1024;
    return { rssMb: round(field("VmRSS"), 1), peakMb: round(field("VmHWM"), 1) };
  } catch {
    return undefined;
  }
}

/** Sum of RSS over a process and its descendants (a JVM or a server that forks). */
export function treeRssMb(pid: number): number | undefined {
  const own = rssMb(pid);
  if (!own) return undefined;
  let total = own.rssMb;
  try {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    for (const child of children) total += treeRssMb(child) ?? 0;
  } catch {
    // no children file: count the process alone
  }
  return round(total, 1);
}

/** Waits for a child process to exit (or kills it after `graceMs`). */
export async function stopChild(child: ChildProcess, signal: NodeJS.Signals = "SIGTERM", graceMs = 15_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited;
  clearTimeout(timer);
}

/** Runs `fn` over `items` with at most `limit` in flight. */
export async function pool<T>(items: number, limit: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const results: T[] = new Array<T>(items);
  let next = 0;
  const lanes = Array.from({ length: Math.min(limit, items) }, async () => {
    for (;;) {
      const i = next++;
      if (i >= items) return;
      results[i] = await fn(i);
    }
  });
  await Promise.all(lanes);
  return results;
}

/** Polls `check` until it is true or the deadline passes; returns whether it became true. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs: number, everyMs = 50): Promise<boolean> {
  const deadline = nowMs() + timeoutMs;
  for (;;) {
    if (await check()) return true;
    if (nowMs() > deadline) return false;
    await sleep(everyMs);
  }
}

/** An error's message and its causes' (a client's "Failed to start Workflow" says why only in its cause), a few lines at most. */
export const errorText = (error: unknown): string => {
  const parts: string[] = [];
  for (let e: unknown = error, depth = 0; e !== undefined && e !== null && depth < 4; e = e instanceof Error ? e.cause : undefined, depth++)
    parts.push(e instanceof Error ? e.message : String(e));
  return parts.join(": ").split("\n").slice(0, 6).join("\n");
};

const TICKS = 100; // USER_HZ on Linux

/** CPU seconds (user + system) a process has used so far; NaN when unknown. */
export function processCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / TICKS;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds the whole machine has been busy (all cores, not idle or iowait). */
export function machineBusySeconds(): number {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n")[0]!;
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    const total = v.reduce((a, b) => a + b, 0);
    return (total - idle) / TICKS;
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds of a process and all its descendants, living or reaped (cutime/cstime). */
export function treeCpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const f = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    let total = (Number(f[11]) + Number(f[12]) + Number(f[13]) + Number(f[14])) / TICKS;
    let children: number[] = [];
    try {
      children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    } catch {
      // no children file
    }
    for (const child of children) total += treeCpuSeconds(child) || 0;
    return total;
  } catch {
    return Number.NaN;
  }
}

/**
 * Measures where CPU went between creation and the call of the returned
 * function: the server processes, PostgreSQL (when its postmaster's pid is
 * known), this process (workers and load), and everything else on the
 * machine — other people's work, which makes figures noisy when large.
 */
export function cpuMeter(serverPids: number[], postgresPid?: number, workerPids: number[] = []) {
  const server0 = serverPids.map(processCpuSeconds);
  const pg0 = postgresPid ? treeCpuSeconds(postgresPid) : Number.NaN;
  const workers0 = workerPids.map(treeCpuSeconds);
  const self0 = process.cpuUsage();
  const machine0 = machineBusySeconds();
  const load0 = loadavg()[0]!;
  const t0 = nowMs();
  return () => {
    const wall = (nowMs() - t0) / 1000;
    const server = serverPids.map(processCpuSeconds).reduce((a, b, i) => a + (b - server0[i]!), 0);
    const postgres = postgresPid ? treeCpuSeconds(postgresPid) - pg0 : Number.NaN;
    const workers = workerPids.map(treeCpuSeconds).reduce((a, b, i) => a + (b - workers0[i]!), 0);
    const selfUsage = process.cpuUsage(self0);
    const self = (selfUsage.user + selfUsage.system) / 1e6;
    const machine = machineBusySeconds() - machine0;
    const cores = cpus().length;
    return {
      wallSeconds: round(wall, 2),
      serverCpuSeconds: round(server, 2),
      /** The database's process tree: PostgreSQL (or a peer's Redis). */
      postgresCpuSeconds: round(postgres, 2),
      /** Worker processes apart from the bench process (a peer's workers in another language). */
      ...(workerPids.length ? { workerCpuSeconds: round(workers, 2) } : {}),
      benchProcessCpuSeconds: round(self, 2),
      /** Busy CPU that was none of the above: other work on the machine (or PostgreSQL, when its pid is unknown). */
      otherCpuSeconds: round(machine - server - self - workers - (Number.isFinite(postgres) ? postgres : 0), 2),
      machineBusyFraction: round(machine / wall / cores, 2),
      loadAverageBefore: round(load0, 1),
      loadAverageAfter: round(loadavg()[0]!, 1),
    };
  };
}
