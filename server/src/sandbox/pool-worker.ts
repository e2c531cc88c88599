// One thread of an evaluation pool (pool.ts): loads its engine (the QuickJS
// sandbox, jq, or the queries: JSONPath filters and JSON Schemas) once, then answers one request at a time. A reply that says
// the engine can no longer be trusted (a WebAssembly abort) makes the thread
// load a fresh instance before the next request; a request that runs past its
// deadline has the whole thread terminated by the pool.
import { createRequire } from "node:module";
import { workerData } from "node:worker_threads";
import { startNow, threadId, type Start } from "../cpu-time.js";
import { jqWorker, type JqConfig, type JqReply, type JqRequest } from "./jq-worker.js";
import { quickjsWorker, type SandboxConfig, type SandboxReply, type SandboxRequest } from "./quickjs-worker.js";
import { queriesWorker, type QueriesReply, type QueriesRequest } from "./queries-worker.js";
import { yieldToServingThread } from "./thread-priority.js";

export type PoolBoot = { engine: "quickjs"; config: SandboxConfig } | { engine: "jq"; config: JqConfig } | { engine: "queries" };

type Request = SandboxRequest | JqRequest | QueriesRequest;
type Reply = SandboxReply | JqReply | QueriesReply;
/** Answers a request; `start` is when it started, for limits the engine enforces itself. */
type Handler = (request: Request, start: Start) => Reply;

/** A request that warms the engine up. */
const FIRST: Record<PoolBoot["engine"], Request> = {
  quickjs: { source: "1", input: "null", timeoutMs: 60_000, memoryBytes: 32 * 1024 * 1024, maxStackBytes: 512 * 1024 },
  jq: { filter: ".", input: "null" },
  queries: { kind: "resolve", template: "${a[?(@.b)]}", context: { a: [{ b: true }] } },
};

const require = createRequire(import.meta.url);
const boot = workerData as PoolBoot;

async function load(): Promise<Handler> {
  let handle: Handler;
  if (boot.engine === "quickjs") handle = (await quickjsWorker(boot.config, require)) as Handler;
  else if (boot.engine === "queries") handle = queriesWorker() as Handler;
  else {
    // jq-web's module is one Emscripten instance: a fresh one needs a fresh load.
    delete require.cache[boot.config.jqWebPath];
    handle = (await jqWorker(boot.config, require)) as Handler;
  }
  // V8 compiles WebAssembly functions on their first call: one trivial request
  // now, so that the first user's code is not charged for it against its limit.
  handle(FIRST[boot.engine], startNow());
  return handle;
}

// From its first work on (loading its engine too), the thread gives way to the serving thread.
yieldToServingThread();
// Loaded before the thread reports ready, so no request's deadline pays for it.
let current = load();
await current;

/** This thread's id, for the pool to read its CPU time (0 where not shown). */
const tid = threadId() ?? 0;

/**
 * One request, and shared memory where the thread notes when it started it
 * (its deadline counts from then): [wall clock (epoch ms), thread id, the
 * thread's CPU time then (ms, -1 where not shown)], the wall clock written last.
 */
export interface PoolTask<Request> {
  request: Request;
  start: Float64Array;
}

export default async function answer({ request, start }: PoolTask<Request>): Promise<Reply> {
  const handle = await current;
  const started = startNow();
  start[1] = tid;
  start[2] = started.cpuMs ?? -1;
  start[0] = started.wallMs;
  const reply = handle(request, started);
  if (!reply.ok && "restart" in reply && reply.restart) current = load();
  return reply;
}
