// The part of the script sandbox that runs inside its worker: QuickJS (the
// sync WebAssembly build), one fresh runtime per evaluation with a memory
// limit, a stack limit and an interrupt at the deadline (the thread's CPU
// time, cpu-time.ts). The context has only
// the language's built-ins: no process, require, import, fetch or timers.
// Runs in a pool thread (pool-worker.ts); `load` is that thread's require.
import type { QuickJSContext, QuickJSHandle, QuickJSRuntime, QuickJSWASMModule } from "quickjs-emscripten";
import { CpuDeadline, overrunText, threadCpuMs, type Overrun, type Start } from "../cpu-time.js";
import type { ScriptErrorKind } from "./errors.js";

export interface SandboxConfig {
  quickjsPath: string;
}

export interface SandboxRequest {
  source: string;
  /** `$`, as JSON text. */
  input: string;
  timeoutMs: number;
  memoryBytes: number;
  maxStackBytes: number;
}

export type SandboxReply =
  { ok: true; json: string; wasmMemoryBytes: number } | { ok: false; kind: ScriptErrorKind; message: string; wasmMemoryBytes: number; restart?: true };

export function quickjsWorker(config: SandboxConfig, load: (id: string) => unknown): Promise<(request: SandboxRequest, start: Start) => SandboxReply> {
  const quickjs = load(config.quickjsPath) as typeof import("quickjs-emscripten");

  // Runs before the script: binds `$`, a silent `console`, and the Java-list
  // methods Conductor scripts use on arrays under Nashorn (`$.list.get(0)`, `.size()`).
  const PRELUDE = `"use strict";
(function (g, text) {
  g.$ = JSON.parse(text);
  var noop = function () {};
  g.console = { log: noop, info: noop, warn: noop, error: noop, debug: noop, trace: noop };
  var hidden = function (name, fn) { Object.defineProperty(Array.prototype, name, { value: fn, writable: true, configurable: true }); };
  hidden("get", function (i) { return this[i]; });
  hidden("size", function () { return this.length; });
})(globalThis, globalThis.__batonInput);
delete globalThis.__batonInput;`;

  type Failure = { kind: ScriptErrorKind; message: string };

  /** Why the script running now was interrupted. */
  let interrupted: Overrun | undefined;

  function describe(context: QuickJSContext, handle: QuickJSHandle): { name: string; message: string; where: string } {
    let dumped: unknown;
    try {
      dumped = context.dump(handle);
    } catch {
      return { name: "Error", message: "an error that could not be read (out of memory?)", where: "" };
    }
    if (dumped !== null && typeof dumped === "object" && "message" in dumped) {
      const e = dumped as { name?: unknown; message?: unknown; stack?: unknown; lineNumber?: unknown };
      const stack = typeof e.stack === "string" ? e.stack : "";
      const at = /script\.js:(\d+):(\d+)/.exec(stack);
      return { name: String(e.name ?? "Error"), message: String(e.message), where: at ? ` (line ${at[1]}, column ${at[2]})` : "" };
    }
    let text: string;
    try {
      text = JSON.stringify(dumped) ?? String(dumped);
    } catch {
      text = String(dumped);
    }
    return { name: "", message: `the script threw ${text}`, where: "" };
  }

  // Limits reached show up as errors inside QuickJS; anything else is the script's own error.
  function classify(context: QuickJSContext, handle: QuickJSHandle, request: SandboxRequest, otherwise: ScriptErrorKind): Failure {
    const { name, message, where } = describe(context, handle);
    if (name === "InternalError" && message === "interrupted") {
      return { kind: "timeout", message: `the script ${overrunText(interrupted ?? "wall", request.timeoutMs)}` };
    }
    if (message === "out of memory" || message === "string too long") {
      return { kind: "memory", message: `the script went over its memory limit of ${request.memoryBytes} bytes` };
    }
    if (message === "stack overflow") {
      return { kind: "memory", message: `the script went over its stack limit of ${request.maxStackBytes} bytes (recursion too deep?)` };
    }
    return { kind: otherwise, message: `${name ? `${name}: ` : ""}${message}${where}` };
  }

  /** The failure an error handle stands for; the handle is released. */
  function failedWith(context: QuickJSContext, error: QuickJSHandle, request: SandboxRequest, otherwise: ScriptErrorKind): Failure {
    try {
      return classify(context, error, request, otherwise);
    } finally {
      error.dispose();
    }
  }

  function evaluate(context: QuickJSContext, runtime: QuickJSRuntime, request: SandboxRequest): { json: string } | Failure {
    // Parse first, so that a syntax error is told apart from a SyntaxError the script throws.
    const compiled = context.evalCode(request.source, "script.js", { type: "global", compileOnly: true });
    if (compiled.error) {
      return failedWith(context, compiled.error, request, "syntax");
    }
    compiled.value.dispose();

    const text = context.newString(request.input);
    context.setProp(context.global, "__batonInput", text);
    text.dispose();
    const prelude = context.evalCode(PRELUDE, "prelude.js", { type: "global" });
    if (prelude.error) {
      return failedWith(context, prelude.error, request, "runtime");
    }
    prelude.value.dispose();

    // Taken before the script runs, so that the script cannot replace it.
    const json = context.getProp(context.global, "JSON");
    const stringify = context.getProp(json, "stringify");
    json.dispose();
    try {
      const result = context.evalCode(request.source, "script.js", { type: "global" });
      if (result.error) {
        return failedWith(context, result.error, request, "runtime");
      }
      let value = result.value;
      try {
        // An async script: run its jobs (still under the deadline) and take what its promise settled to.
        const first = context.getPromiseState(value);
        if (!(first.type === "fulfilled" && first.notAPromise)) {
          if (first.type === "fulfilled") first.value.dispose();
          else if (first.type === "rejected") first.error.dispose();
          const jobs = runtime.executePendingJobs(-1);
          if (jobs.error) {
            return failedWith(context, jobs.error, request, "runtime");
          }
          const settled = context.getPromiseState(value);
          if (settled.type === "pending") return { kind: "result", message: "the script returned a Promise that never settled" };
          if (settled.type === "rejected") {
            return failedWith(context, settled.error, request, "runtime");
          }
          value.dispose();
          value = settled.value;
        }
        const out = context.callFunction(stringify, context.undefined, value);
        if (out.error) {
          const failure = failedWith(context, out.error, request, "result");
          return failure.kind === "result" ? { kind: "result", message: `the result is not JSON: ${failure.message}` } : failure;
        }
        try {
          // undefined, functions and symbols have no JSON: they become null.
          return { json: context.typeof(out.value) === "string" ? context.getString(out.value) : "null" };
        } finally {
          out.value.dispose();
        }
      } finally {
        if (value.alive) value.dispose();
      }
    } finally {
      stringify.dispose();
    }
  }

  return quickjs.newQuickJSWASMModule(quickjs.RELEASE_SYNC).then((module: QuickJSWASMModule) => {
    const memory = (): number => module.getWasmMemory().buffer.byteLength;
    return (request: SandboxRequest, start: Start): SandboxReply => {
      let runtime: QuickJSRuntime | undefined;
      let context: QuickJSContext | undefined;
      let outcome: { json: string } | Failure;
      try {
        runtime = module.newRuntime();
        runtime.setMemoryLimit(request.memoryBytes);
        runtime.setMaxStackSize(request.maxStackBytes);
        const deadline = new CpuDeadline(request.timeoutMs, start, threadCpuMs);
        interrupted = undefined;
        // Called every few thousand instructions: the deadline reads the wall clock, the CPU time only when it could be over.
        runtime.setInterruptHandler(() => (interrupted ??= deadline.overrun()) !== undefined);
        context = runtime.newContext();
        outcome = evaluate(context, runtime, request);
        context.dispose();
        runtime.dispose();
      } catch (error) {
        // QuickJS itself failed (a wasm abort, or the thread's own stack ran out
        // inside wasm): this module is no longer trustworthy, so the worker is replaced.
        const text = String((error as Error)?.message ?? error);
        const stack = /call stack|stack overflow/i.test(text);
        return {
          ok: false,
          kind: stack ? "memory" : "runtime",
          message: stack ? `the script went over its stack limit of ${request.maxStackBytes} bytes` : `the sandbox failed: ${text}`,
          wasmMemoryBytes: memory(),
          restart: true,
        };
      }
      return "json" in outcome ? { ok: true, json: outcome.json, wasmMemoryBytes: memory() } : { ok: false, ...outcome, wasmMemoryBytes: memory() };
    };
  });
}
