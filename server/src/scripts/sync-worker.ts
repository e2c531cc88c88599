// A worker thread called synchronously. The decider is synchronous, but user
// code (JavaScript, jq) must have a hard time limit even where it cannot be
// interrupted from inside (a native builtin looping over 1e9 holes, a jq
// filter that never ends). So the code runs in a worker; the caller posts a
// request and blocks on Atomics.wait until the answer or the deadline, and a
// worker that misses its deadline is terminated and replaced.
//
// The worker's code is a self-contained function turned into source text with
// toString() and run with `eval: true` and no execArgv: it works the same from
// compiled JavaScript and under tsx, and a replacement worker can boot while
// the caller is blocked (tsx's loader hooks cannot).
import { createRequire } from "node:module";
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort, type ResourceLimits } from "node:worker_threads";

/** Runs in the worker; resolves to the function that answers each request. Must not refer to anything outside itself. */
export type WorkerBody<Config, Request, Reply> = (
  config: Config,
  load: (id: string) => unknown,
) => Promise<(request: Request) => Reply> | ((request: Request) => Reply);

export interface SyncWorkerOptions<Config> {
  config: Config;
  resourceLimits?: ResourceLimits;
  /** How long a (re)started worker may take to be ready. */
  startupTimeoutMs?: number;
}

export type CallResult<Reply> = { ok: true; reply: Reply } | { ok: false; reason: "timeout" | "crashed"; detail: string };

interface Boot<Config> {
  port: MessagePort;
  signal: Int32Array; // [0]: id of the last answered request; [1]: 1 ready, -1 failed to start
  config: Config;
}

type Envelope = { id: number; ok: true; reply: unknown; restart: boolean } | { id: number; ok: false; error: string };

// Serialised into the worker. Replies carrying `restart: true` end the worker
// after answering (its state can no longer be trusted).
function workerMain(boot: Boot<unknown>, load: (id: string) => unknown, body: WorkerBody<unknown, unknown, unknown>): void {
  const { port, signal, config } = boot;
  const answer = (envelope: Envelope): void => {
    port.postMessage(envelope);
    Atomics.store(signal, 0, envelope.id);
    Atomics.notify(signal, 0);
  };
  Promise.resolve()
    .then(() => body(config, load))
    .then(
      (handle) => {
        port.on("message", (message: { id: number; request: unknown }) => {
          let envelope: Envelope;
          try {
            const reply = handle(message.request);
            const restart = typeof reply === "object" && reply !== null && (reply as { restart?: unknown }).restart === true;
            envelope = { id: message.id, ok: true, reply, restart };
          } catch (error) {
            envelope = { id: message.id, ok: false, error: String((error as Error)?.stack ?? error) };
          }
          answer(envelope);
          if (!envelope.ok || envelope.restart) process.exit(0);
        });
        Atomics.store(signal, 1, 1);
        Atomics.notify(signal, 1);
      },
      (error: unknown) => {
        port.postMessage({ id: 0, ok: false, error: String((error as Error)?.stack ?? error) });
        Atomics.store(signal, 1, -1);
        Atomics.notify(signal, 1);
      },
    );
}

interface Live {
  worker: Worker;
  port: MessagePort;
  signal: Int32Array;
  dead: boolean;
}

// Node 20 has it; the ES2023 lib used here does not declare it.
interface AtomicsWaitAsync {
  waitAsync(array: Int32Array, index: number, value: number, timeout: number): { async: false; value: string } | { async: true; value: Promise<string> };
}

const require = createRequire(import.meta.url);

export class SyncWorker<Config, Request, Reply> {
  private live: Live | undefined;
  private lastId = 0;
  private restartCount = 0;
  private readonly source: string;

  constructor(
    body: WorkerBody<Config, Request, Reply>,
    private readonly options: SyncWorkerOptions<Config>,
  ) {
    // `__name`: esbuild (tsx) may wrap nested functions with it when keeping names.
    this.source =
      `"use strict"; var __name = (f) => f; const { workerData } = require("node:worker_threads");\n` +
      `(${workerMain.toString()})(workerData, require, ${body.toString()});`;
  }

  /** Module resolution for the worker's `load`, from this package. */
  static resolve(id: string): string {
    return require.resolve(id);
  }

  /** Starts the worker and waits for it without blocking. */
  async start(): Promise<void> {
    const live = this.spawn();
    const timeout = this.options.startupTimeoutMs ?? 10_000;
    const waited = (Atomics as unknown as AtomicsWaitAsync).waitAsync(live.signal, 1, 0, timeout);
    if (waited.async) await waited.value;
    this.checkStarted(live);
  }

  /** Sends one request and blocks until its reply, or until `timeoutMs` has passed (the worker is then replaced). */
  call(request: Request, timeoutMs: number): CallResult<Reply> {
    const live = this.ensureLive();
    const id = (this.lastId = (this.lastId % 0x7fff_fffe) + 1);
    live.port.postMessage({ id, request });
    const deadline = performance.now() + timeoutMs;
    for (;;) {
      const answered = Atomics.load(live.signal, 0);
      if (answered === id) break;
      const left = deadline - performance.now();
      if (left <= 0) {
        this.kill();
        return { ok: false, reason: "timeout", detail: `no answer within ${timeoutMs} ms` };
      }
      Atomics.wait(live.signal, 0, answered, left);
    }
    for (let m = receiveMessageOnPort(live.port); m; m = receiveMessageOnPort(live.port)) {
      const envelope = m.message as Envelope;
      if (envelope.id !== id) continue; // a late answer to a request that timed out
      if (!envelope.ok) {
        this.kill();
        return { ok: false, reason: "crashed", detail: envelope.error };
      }
      if (envelope.restart) this.kill();
      return { ok: true, reply: envelope.reply as Reply };
    }
    this.kill();
    return { ok: false, reason: "crashed", detail: "the worker answered without a message" };
  }

  /** How many times a worker was replaced (timeouts, crashes, restarts asked by the worker). */
  get restarts(): number {
    return this.restartCount;
  }

  async close(): Promise<void> {
    const live = this.live;
    this.live = undefined;
    if (live) await live.worker.terminate();
  }

  private ensureLive(): Live {
    if (this.live && !this.live.dead) return this.live;
    if (this.live) this.kill();
    const live = this.spawn();
    Atomics.wait(live.signal, 1, 0, this.options.startupTimeoutMs ?? 10_000);
    this.checkStarted(live);
    return live;
  }

  private spawn(): Live {
    const signal = new Int32Array(new SharedArrayBuffer(8));
    const { port1, port2 } = new MessageChannel();
    const boot: Boot<Config> = { port: port2, signal, config: this.options.config };
    const worker = new Worker(this.source, {
      eval: true,
      execArgv: [],
      env: {}, // nothing of the host's environment reaches user code
      workerData: boot,
      transferList: [port2],
      ...(this.options.resourceLimits ? { resourceLimits: this.options.resourceLimits } : {}),
    });
    const live: Live = { worker, port: port1, signal, dead: false };
    const dead = (): void => {
      live.dead = true;
    };
    worker.on("error", dead); // e.g. out of heap: must not become an uncaught 'error' event
    worker.on("exit", dead);
    this.live = live;
    return live;
  }

  private checkStarted(live: Live): void {
    const state = Atomics.load(live.signal, 1);
    if (state === 1) {
      live.worker.unref(); // held while starting, so that an awaited start keeps the process alive
      return;
    }
    const message = receiveMessageOnPort(live.port)?.message as Envelope | undefined;
    this.kill();
    const detail = message && !message.ok ? message.error : "timed out";
    throw new Error(`the worker did not start: ${detail}`);
  }

  private kill(): void {
    const live = this.live;
    if (!live) return;
    this.live = undefined;
    this.restartCount++;
    live.dead = true;
    live.port.close();
    void live.worker.terminate();
  }
}
