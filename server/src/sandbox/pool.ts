// A pool of worker threads (piscina) for user code: QuickJS scripts or jq run
// there, awaited, so the thread that serves calls never waits on them. Each
// request's deadline counts from when a thread starts it (time queued, or a
// fresh thread loading its engine, is not the script's); one that misses it
// has its thread terminated, and the pool starts another. The thread marks
// when it starts a request in memory shared with this one (no extra message
// per request); a watchdog looks at the requests in flight while there are any.
import { existsSync } from "node:fs";
import type { ResourceLimits } from "node:worker_threads";
import { Piscina } from "piscina";
import type { PoolBoot, PoolTask } from "./pool-worker.js";

export type PoolAnswer<Reply> = { ok: true; reply: Reply } | { ok: false; reason: "timeout" | "crashed"; detail: string };

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

/** How often requests in flight are checked against their deadlines: the most a deadline is overrun by. */
const WATCHDOG_MS = 50;

interface InFlight {
  /** Written by the thread when it starts the request: epoch milliseconds. */
  startedAt: Float64Array;
  timeoutMs: number;
  deadline: AbortController;
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
      execArgv: [],
      ...(options.resourceLimits ? { resourceLimits: options.resourceLimits } : {}),
    });
  }

  /** Runs one request; `timeoutMs` counts from when a thread starts it. Never rejects. */
  async run(request: Request, timeoutMs: number): Promise<PoolAnswer<Reply>> {
    const flight: InFlight = { startedAt: new Float64Array(new SharedArrayBuffer(8)), timeoutMs, deadline: new AbortController() };
    this.track(flight);
    try {
      const reply = await this.pool.run({ request, startedAt: flight.startedAt }, { signal: flight.deadline.signal });
      if (!reply.ok && reply.restart) this.replaced++;
      return { ok: true, reply };
    } catch (error) {
      this.replaced++;
      if (flight.deadline.signal.aborted) return { ok: false, reason: "timeout", detail: `no answer within ${timeoutMs} ms` };
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
    const now = performance.timeOrigin + performance.now();
    for (const flight of this.inFlight) {
      const started = flight.startedAt[0]!;
      if (started > 0 && now - started > flight.timeoutMs) flight.deadline.abort();
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
