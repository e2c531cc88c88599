// A pool of worker threads (piscina) for user code: QuickJS scripts or jq run
// there, awaited, so the thread that serves calls never waits on them. Each
// request's limit counts the CPU time its thread spends on it from when it
// starts it (time queued, a fresh thread loading its engine, or waiting for a
// core on a busy machine is not the script's), with a wall-clock backstop
// (cpu-time.ts); one that passes it has its thread terminated, and the pool
// starts another. The thread marks when it starts a request in memory shared
// with this one (no extra message per request); a watchdog looks at the
// requests in flight while there are any.
import { existsSync } from "node:fs";
import type { ResourceLimits } from "node:worker_threads";
import { Piscina } from "piscina";
import { CpuDeadline, taskCpuMs, type Overrun } from "../cpu-time.js";
import type { PoolBoot, PoolTask } from "./pool-worker.js";

export type PoolAnswer<Reply> =
  { ok: true; reply: Reply } | { ok: false; reason: "timeout"; overrun: Overrun } | { ok: false; reason: "crashed"; detail: string };

/**
 * The thread's module. Compiled, the sibling JavaScript file. Under tsx (tests
 * from source) the compiled one too when it was built (tests build first: a
 * thread loading TypeScript through tsx takes seconds to start), else the
 * TypeScript through tsx.
 */
function workerFile(): string {
  if (!import.meta.url.endsWith(".ts")) return new URL("./pool-worker.js", import.meta.url).href;
  const compiled = new URL("../../dist/sandbox/pool-worker.js", import.meta.url);
  return existsSync(compiled) ? compiled.href : new URL("./pool-worker-source.mjs", import.meta.url).href;
}

/**
 * The worker file is loaded by import(), never by require(esm): piscina tries require first, and Node 20's require of an
 * ES module whose graph another load was still linking aborted the whole process (a V8 fatal error: IsGraphAsync on a
 * module not instantiated), once in a CI run. With the flag require refuses at once and piscina imports the file.
 */
const WORKER_EXEC_ARGV = process.allowedNodeEnvironmentFlags.has("--no-experimental-require-module") ? ["--no-experimental-require-module"] : [];

/** How often requests in flight are checked against their deadlines: the most a deadline is overrun by. */
const WATCHDOG_MS = 50;

interface InFlight {
  /** Written by the thread when it starts the request (pool-worker.ts's PoolTask). */
  start: Float64Array;
  limitMs: number;
  /** Made once the thread started the request. */
  deadline?: CpuDeadline | undefined;
  overrun?: Overrun;
  abort: AbortController;
}

export interface PoolOptions {
  boot: PoolBoot;
  threads: number;
  resourceLimits?: ResourceLimits;
}

export class EvaluationPool<Request, Reply extends { ok: boolean; restart?: true }> {
  private readonly pool: Piscina<PoolTask<Request>, Reply>;
  private replaced = 0;
  private readonly inFlight = new Set<InFlight>();
  private watchdog: NodeJS.Timeout | undefined;

  constructor(options: PoolOptions) {
    this.pool = new Piscina<PoolTask<Request>, Reply>({
      filename: workerFile(),
      workerData: options.boot,
      minThreads: 1,
      maxThreads: options.threads,
      idleTimeout: 30_000,
      env: {}, // nothing of the host's environment reaches user code
      execArgv: WORKER_EXEC_ARGV,
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
  }

  /** Runs one request; `limitMs` of its thread's CPU time, counted from when the thread starts it. Never rejects. */
  async run(request: Request, limitMs: number): Promise<PoolAnswer<Reply>> {
    const flight: InFlight = { start: new Float64Array(new SharedArrayBuffer(24)), limitMs, abort: new AbortController() };
    this.track(flight);
    try {
      const reply = await this.pool.run({ request, start: flight.start }, { signal: flight.abort.signal });
      if (!reply.ok && reply.restart) this.replaced++;
      return { ok: true, reply };
    } catch (error) {
      this.replaced++;
      if (flight.overrun) return { ok: false, reason: "timeout", overrun: flight.overrun };
      return { ok: false, reason: "crashed", detail: String((error as Error)?.message ?? error) };
    } finally {
      this.untrack(flight);
    }
  }

  private track(flight: InFlight): void {
    this.inFlight.add(flight);
    this.watchdog ??= setInterval(() => this.check(), WATCHDOG_MS);
  }

  private untrack(flight: InFlight): void {
    this.inFlight.delete(flight);
    if (this.inFlight.size === 0 && this.watchdog) {
      clearInterval(this.watchdog);
      this.watchdog = undefined;
    }
  }

  /** Aborts (and so terminates the thread of) every request past its deadline. */
  private check(): void {
    for (const flight of this.inFlight) {
      flight.deadline ??= deadlineOf(flight);
      const overrun = flight.deadline?.overrun();
      if (overrun && !flight.overrun) {
        flight.overrun = overrun;
        flight.abort.abort();
      }
    }
  }

  /** How many times an engine was replaced (a thread terminated at its deadline or crashed, or an engine reloaded). */
  get restarts(): number {
    return this.replaced;
  }

  /** Requests waiting for a thread. */
  get queued(): number {
    return this.pool.queueSize;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}

/** A started request's deadline, read from what its thread noted; undefined while it waits for a thread. */
function deadlineOf({ start, limitMs }: InFlight): CpuDeadline | undefined {
  const [wallMs, tid, cpuMs] = [start[0]!, start[1]!, start[2]!];
  if (wallMs === 0) return undefined;
  const shown = tid > 0 && cpuMs >= 0;
  return new CpuDeadline(limitMs, { wallMs, cpuMs: shown ? cpuMs : undefined }, () => taskCpuMs(tid));
}
