// JSON_JQ_TRANSFORM through a real jq (1.7, WebAssembly) in a pool of worker
// threads, awaited: `result` is the filter's first output, `resultList` all of
// them. A filter that runs too long (in CPU time, cpu-time.ts) is stopped by
// terminating its thread. A
// filter jq rejects is retried once in jackson-jq's reading (jq-compat.ts).
import { NOTE_CHARS, shortened } from "@baton/json";
import { createRequire } from "node:module";
import { overrunText } from "../cpu-time.js";
import type { Json } from "../expressions/json.js";
import { parenthesizeObjectValues } from "./jq-compat.js";
import type { JqReply, JqRequest } from "./jq-worker.js";
import { EvaluationPool } from "./pool.js";

export type JqErrorKind = "compile" | "runtime" | "timeout" | "memory";

/** jq refused the filter (compile), it failed on the input (runtime, with jq's own message), or it hit a limit. */
export class JqError extends Error {
  override readonly name = "JqError";
  constructor(
    readonly kind: JqErrorKind,
    message: string,
  ) {
    super(shortened(message, NOTE_CHARS)); // a script or jq may throw a megabyte of text, which becomes a task's reason
  }
}

export interface JqLimits {
  /** CPU time (cpu-time.ts). */
  timeoutMs: number;
  /** The most WebAssembly memory jq may grow its heap to. */
  memoryBytes: number;
}

export interface Jq {
  /** Runs `filter` on `input`. Rejects with JqError. */
  transform(filter: string, input: Json): Promise<{ result: Json; resultList: Json[] }>;
  /** How many times jq was replaced (timeouts, memory). */
  stats(): { workerRestarts: number };
  close(): Promise<void>;
}

export const DEFAULT_JQ_LIMITS: Readonly<JqLimits> = { timeoutMs: 2_000, memoryBytes: 256 * 1024 * 1024 };

// jq keeps number literals as written, so `1e1000` comes out as such; JSON
// has no infinity, and jq itself prints an infinite result as the largest double.
function finite(_key: string, value: unknown): unknown {
  if (typeof value !== "number" || Number.isFinite(value)) return value;
  return value > 0 ? Number.MAX_VALUE : -Number.MAX_VALUE;
}

const require = createRequire(import.meta.url);

/** Loads jq's WebAssembly module once per thread. */
export async function createJq(limits: Partial<JqLimits> = {}, threads = 1): Promise<Jq> {
  const { timeoutMs, memoryBytes } = { ...DEFAULT_JQ_LIMITS, ...limits };
  const pool = new EvaluationPool<JqRequest, JqReply>({
    boot: { engine: "jq", config: { jqWebPath: require.resolve("jq-web"), memoryBytes } },
    threads,
    // jq-web collects output as a JS array of bytes: a runaway output ends the thread, not the server.
    resourceLimits: { maxOldGenerationSizeMb: 512 },
  });
  const rewritten = new Map<string, string>();

  async function run(filter: string, input: string): Promise<JqReply> {
    const answer = await pool.run({ filter, input }, timeoutMs);
    if (answer.ok) return answer.reply;
    throw answer.reason === "timeout"
      ? new JqError("timeout", `jq ${overrunText(answer.overrun, timeoutMs)} and was stopped`)
      : new JqError("runtime", `jq failed: ${answer.detail}`);
  }

  return {
    async transform(filter, input) {
      let text: string;
      try {
        text = JSON.stringify(input ?? null);
      } catch (error) {
        throw new JqError("runtime", `the input is not JSON: ${(error as Error).message}`);
      }
      let reply = await run(rewritten.get(filter) ?? filter, text);
      if (!reply.ok && reply.kind === "compile" && !rewritten.has(filter)) {
        // Perhaps a jackson-jq filter (see jq-compat.ts); jq's own error stands if the rewrite does not compile either.
        const compat = parenthesizeObjectValues(filter);
        if (compat !== undefined) {
          const retry = await run(compat, text);
          if (retry.ok || retry.kind !== "compile") {
            if (rewritten.size >= 1_000) rewritten.clear();
            rewritten.set(filter, compat);
            reply = retry;
          }
        }
      }
      if (!reply.ok) throw new JqError(reply.kind, reply.message);
      // `-c` prints one JSON text per line; strings keep their newlines escaped.
      const resultList = reply.output
        .split("\n")
        .filter((line) => line !== "")
        .map((line) => JSON.parse(line, finite) as Json);
      return { result: resultList[0] ?? null, resultList };
    },
    stats: () => ({ workerRestarts: pool.restarts }),
    close: () => pool.close(),
  };
}
