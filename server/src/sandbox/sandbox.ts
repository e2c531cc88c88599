// The JavaScript sandbox for INLINE, LAMBDA, SWITCH's `javascript` evaluator
// and DO_WHILE's loopCondition: QuickJS (WebAssembly) in a pool of worker
// threads, awaited. Limits hold twice: QuickJS interrupts the script at its
// deadline (CPU time, cpu-time.ts) and caps its memory and stack; if it still
// does not answer (a native builtin that cannot be interrupted), its thread is
// terminated.
import type { Json } from "../expressions/json.js";
import { ScriptError } from "./errors.js";
import type { SandboxConfig, SandboxReply, SandboxRequest } from "./quickjs-worker.js";
import { EvaluationPool } from "./pool.js";
import { createRequire } from "node:module";
import { overrunText } from "../cpu-time.js";

export interface ScriptLimits {
  /** CPU time (cpu-time.ts). */
  timeoutMs: number;
  memoryBytes: number;
  maxStackBytes?: number;
}

export interface ScriptEngine {
  /** Evaluates `source` with `$` bound to `bindings` (a JSON value); resolves to the JSON result. Rejects with ScriptError with a clear reason. */
  evaluate(source: string, bindings: Json, limits?: Partial<ScriptLimits>): Promise<Json>;
  /** For tests and metrics: the sandbox's WebAssembly memory and how many times an engine was replaced. */
  stats(): { wasmMemoryBytes: number; workerRestarts: number };
  /** Stops the pool's threads. */
  close(): Promise<void>;
}

export const DEFAULT_SCRIPT_LIMITS: Readonly<Required<ScriptLimits>> = {
  timeoutMs: 1_000,
  memoryBytes: 32 * 1024 * 1024,
  maxStackBytes: 512 * 1024,
};

// QuickJS counts its stack in wasm memory, but each of its frames also takes
// V8 stack: measured, the thread needs about 16 times QuickJS's limit (deeply
// nested JSON.stringify is the worst), so the worker gets a large stack and
// the QuickJS limit is capped to stay well inside it.
const WORKER_STACK_MB = 32;
const MAX_STACK_BYTES = 1024 * 1024;

const require = createRequire(import.meta.url);

/** Loads the WebAssembly module once per thread; each evaluation then gets a fresh QuickJS runtime. */
export async function createScriptEngine(defaults: Partial<ScriptLimits> = {}, threads = 1): Promise<ScriptEngine> {
  const base = { ...DEFAULT_SCRIPT_LIMITS, ...defined(defaults) };
  const config: SandboxConfig = { quickjsPath: require.resolve("quickjs-emscripten") };
  const pool = new EvaluationPool<SandboxRequest, SandboxReply>({
    boot: { engine: "quickjs", config },
    threads,
    resourceLimits: { stackSizeMb: WORKER_STACK_MB, maxOldGenerationSizeMb: 512 },
  });
  let wasmMemoryBytes = 0;

  return {
    async evaluate(source, bindings, limits = {}) {
      const l = { ...base, ...defined(limits) };
      const request: SandboxRequest = {
        source,
        input: inputText(bindings, l.memoryBytes),
        timeoutMs: positive(l.timeoutMs, "timeoutMs"),
        memoryBytes: positive(l.memoryBytes, "memoryBytes"),
        maxStackBytes: Math.min(positive(l.maxStackBytes, "maxStackBytes"), MAX_STACK_BYTES),
      };
      // The worker's own deadline is the interrupt; this one is the backstop.
      const answer = await pool.run(request, request.timeoutMs * 2 + 250);
      if (!answer.ok) {
        throw answer.reason === "timeout"
          ? new ScriptError("timeout", `the script ${overrunText(answer.overrun, request.timeoutMs)} and was stopped`)
          : new ScriptError("runtime", `the sandbox failed: ${answer.detail}`);
      }
      const reply = answer.reply;
      wasmMemoryBytes = reply.wasmMemoryBytes;
      if (!reply.ok) throw new ScriptError(reply.kind, reply.message);
      return JSON.parse(reply.json) as Json;
    },
    stats: () => ({ wasmMemoryBytes, workerRestarts: pool.restarts }),
    close: () => pool.close(),
  };
}

function inputText(bindings: Json, memoryBytes: number): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(bindings ?? null);
  } catch (error) {
    throw new ScriptError("runtime", `the script's input is not JSON: ${(error as Error).message}`);
  }
  // Parsed inside QuickJS it needs at least this much of the memory limit.
  if (text.length > memoryBytes)
    throw new ScriptError("memory", `the script's input (${text.length} bytes of JSON) is larger than its memory limit of ${memoryBytes} bytes`);
  return text;
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`script limit ${name} must be a positive number, not ${value}`);
  return Math.floor(value);
}

function defined<T extends object>(limits: T): Partial<T> {
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined)) as Partial<T>;
}
