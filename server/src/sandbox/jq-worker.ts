// The part of JSON_JQ_TRANSFORM that runs inside its worker: jq 1.7 compiled
// to WebAssembly (the jq-web package), with a cap on its memory. jq cannot be
// interrupted, so its time limit is its thread being terminated (pool.ts).
// jq-web keeps its files in memory (no host file system: `import`/`include`
// find nothing) and shows jq a made-up environment for `$ENV`.
// Runs in a pool thread (pool-worker.ts); `load` is that thread's require.

export interface JqConfig {
  jqWebPath: string;
  memoryBytes: number;
}

export interface JqRequest {
  filter: string;
  /** The input, as JSON text. */
  input: string;
}

export type JqReply = { ok: true; output: string } | { ok: false; kind: "compile" | "runtime" | "memory"; message: string; restart?: true };

interface JqWeb {
  raw(json: string, filter: string, flags: string[]): string | undefined;
}

export function jqWorker(config: JqConfig, load: (id: string) => unknown): Promise<(request: JqRequest) => JqReply> {
  // Emscripten grows the heap through Memory.prototype.grow and treats a throw
  // as "no more memory": malloc then fails and jq stops with an error. Only
  // jq's memory lives in this worker, so patching the prototype here is safe.
  type WasmMemory = { readonly buffer: ArrayBuffer; grow(delta: number): number };
  const memory = (globalThis as unknown as { WebAssembly: { Memory: { prototype: WasmMemory } } }).WebAssembly.Memory.prototype;
  const grow = memory.grow;
  memory.grow = function (this: WasmMemory, delta: number): number {
    if (this.buffer.byteLength + delta * 65536 > config.memoryBytes) throw new RangeError("over the jq memory limit");
    return grow.call(this, delta);
  };
  // jq-web prints jq's stderr (`debug`, `stderr`) with console.warn: keep it off the server's output.
  const quiet = (): void => {};
  console.warn = quiet;
  console.log = quiet;
  console.error = quiet;

  // jq-web names its input file "inputString"; jq's own CLI would say <stdin>.
  const tidy = (text: string): string => text.replaceAll("(at inputString:", "(at <stdin>:").trim();

  const jq = load(config.jqWebPath) as Promise<JqWeb>;
  return jq.then((engine) => (request: JqRequest): JqReply => {
    try {
      return { ok: true, output: engine.raw(request.input, request.filter, ["-c"]) ?? "" };
    } catch (error) {
      const e = error as { exitCode?: unknown; stderr?: unknown; message?: unknown };
      const stderr = typeof e.stderr === "string" ? tidy(e.stderr) : "";
      if (/cannot allocate memory|out of memory/i.test(stderr) || typeof e.exitCode !== "number") {
        // jq aborts when malloc fails; an aborted module cannot run again, so the worker is replaced.
        const memory = /memory|Aborted/i.test(`${stderr} ${String(e.message)}`);
        return {
          ok: false,
          kind: memory ? "memory" : "runtime",
          message: memory ? `jq went over its memory limit of ${config.memoryBytes} bytes` : `jq failed: ${stderr || String(e.message)}`,
          restart: true,
        };
      }
      // Exit status 3 is a compile error; 5 a runtime error (also `error(...)`); others come from halt_error.
      const kind = e.exitCode === 3 ? "compile" : "runtime";
      return { ok: false, kind, message: stderr || `jq stopped with exit status ${e.exitCode}` };
    }
  });
}
