// Baton under test: server processes (server/dist/main.js, the shipped
// binary), the bench's flows, and no-op workers built on the shipped Worker.
import { spawn, type ChildProcess } from "node:child_process";
import { createWriteStream, mkdirSync } from "node:fs";
import path from "node:path";
import { BatonClient, Worker } from "@baton/client";
import { ROOT, rssMb, stopChild, track, wallMs } from "./util.js";

export const SERVER_MAIN = process.env["BATON_BENCH_SERVER_MAIN"] ?? path.join(ROOT, "server/dist/main.js");

export interface ServerProcess {
  child: ChildProcess;
  pid: number;
  address: string;
  /** Stops it gracefully (so a CPU profile gets written); returns the profile path when profiling. */
  stop(): Promise<string | undefined>;
  rss(): { rssMb: number; peakMb: number } | undefined;
}

export interface ServerStartOptions {
  databaseUrl: string;
  /** Write a V8 CPU profile of the server to this directory under this name. */
  profile?: { dir: string; name: string };
  /** Write the server's stderr (its warn/error logs) to this file. */
  logFile?: string;
  env?: Record<string, string>;
  /** Node's arguments in place of the shipped server/dist/main.js (e.g. a bench entry run with tsx). */
  entry?: string[];
}

export async function startServerProcess(options: ServerStartOptions): Promise<ServerProcess> {
  // V8 or Node flags for the server alone (an A/B of e.g. GC settings), split on spaces.
  const args: string[] = (process.env["BATON_BENCH_SERVER_NODE_ARGS"] ?? "").split(" ").filter(Boolean);
  let profilePath: string | undefined;
  if (options.profile) {
    mkdirSync(options.profile.dir, { recursive: true });
    profilePath = path.join(options.profile.dir, `${options.profile.name}.cpuprofile`);
    args.push("--cpu-prof", `--cpu-prof-dir=${options.profile.dir}`, `--cpu-prof-name=${options.profile.name}.cpuprofile`);
  }
  const child = track(
    spawn(process.execPath, [...args, ...(options.entry ?? [SERVER_MAIN])], {
      env: {
        ...process.env,
        BATON_DATABASE_URL: options.databaseUrl,
        BATON_PORT: "0",
        BATON_HOST: "127.0.0.1",
        BATON_LOG_LEVEL: process.env["BATON_BENCH_SERVER_LOG_LEVEL"] ?? "warn",
        ...options.env,
      },
      stdio: ["ignore", "pipe", "pipe"],
      ...(options.entry ? { cwd: ROOT } : {}),
    }),
  );
  let stderr = "";
  if (options.logFile) mkdirSync(path.dirname(options.logFile), { recursive: true });
  const logStream = options.logFile ? createWriteStream(options.logFile, { flags: "w" }) : undefined;
  child.once("exit", () => logStream?.end());
  child.stderr!.on("data", (d: Buffer) => {
    logStream?.write(d);
    stderr = (stderr + d.toString()).slice(-20_000);
    if (process.env["BATON_BENCH_VERBOSE"]) process.stderr.write(d);
  });
  const address = await new Promise<string>((resolve, reject) => {
    let buffer = "";
    const timer = setTimeout(() => reject(new Error(`server did not start in 60 s: ${stderr.slice(-2000)}`)), 60_000);
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString();
      const match = /listening (\S+)/.exec(buffer);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`server exited with ${code}: ${stderr.slice(-2000)}`));
    });
  });
  child.stdout!.resume();
  return {
    child,
    pid: child.pid!,
    address,
    async stop() {
      await stopChild(child, "SIGTERM", 30_000);
      return profilePath;
    },
    rss: () => rssMb(child.pid!),
  };
}

// ---- flows -------------------------------------------------------------------

export const TASK_TYPES = ["bench_a", "bench_b", "bench_c"] as const;

export const taskDefs = [...TASK_TYPES, "bench_item", "bench_lat"].map((name) => ({
  name,
  retryCount: 0,
  timeoutSeconds: 0,
  responseTimeoutSeconds: 300,
  ownerEmail: "bench@example.com",
}));

/** The 3-step sequential flow every throughput and latency figure uses. */
export const SEQ3 = {
  name: "bench_seq3",
  version: 1,
  schemaVersion: 2,
  ownerEmail: "bench@example.com",
  tasks: TASK_TYPES.map((type, i) => ({
    name: type,
    taskReferenceName: type,
    type: "SIMPLE",
    inputParameters: { n: i === 0 ? "${workflow.input.n}" : `\${${TASK_TYPES[i - 1]}.output.n}` },
  })),
  outputParameters: { n: "${bench_c.output.n}" },
};

/** FORK_JOIN_DYNAMIC over the branches named in the input, then a JOIN. */
export const FANOUT = {
  name: "bench_fanout",
  version: 1,
  schemaVersion: 2,
  ownerEmail: "bench@example.com",
  tasks: [
    {
      name: "fork",
      taskReferenceName: "fork",
      type: "FORK_JOIN_DYNAMIC",
      dynamicForkTasksParam: "dynamicTasks",
      dynamicForkTasksInputParamName: "dynamicTasksInput",
      inputParameters: { dynamicTasks: "${workflow.input.dynamicTasks}", dynamicTasksInput: "${workflow.input.dynamicTasksInput}" },
    },
    { name: "join", taskReferenceName: "join", type: "JOIN" },
  ],
};

/**
 * The fan-out's input: `branches` tasks and no input of their own. An input per
 * branch is keyed by its reference name, and 10,000 of those are more distinct
 * key names than a start's input may use (service/json-checks.ts): the full
 * bench's 10,000-branch start was refused.
 */
export function fanoutInput(branches: number): { dynamicTasks: object[]; dynamicTasksInput: Record<string, object> } {
  const dynamicTasks = Array.from({ length: branches }, (_, i) => ({ name: "bench_item", taskReferenceName: `item_${i}`, type: "SIMPLE" }));
  return { dynamicTasks, dynamicTasksInput: {} };
}

/** One HUMAN task: the run waits until signalled (the memory scenario). */
export const WAITING = {
  name: "bench_waiting",
  version: 1,
  schemaVersion: 2,
  ownerEmail: "bench@example.com",
  tasks: [{ name: "hold", taskReferenceName: "hold", type: "HUMAN" }],
};

export async function registerFlows(client: BatonClient): Promise<void> {
  await client.registerTaskDefs(taskDefs);
  for (const def of [SEQ3, FANOUT, WAITING]) await client.registerWorkflowDef(def, { nextIfChanged: true });
}

// ---- workers -------------------------------------------------------------------

export interface NoopWorkers {
  worker: Worker;
  /** Handler invocations per task type. */
  counts: Map<string, number>;
  stop(): Promise<void>;
}

/** Receive and return times (wall clock, sub-ms) by task id. */
export interface Stamps {
  received: Map<string, number>;
  returned: Map<string, number>;
}

/** No-op handlers for the 3-step flow's types (and fan-out items): return n + 1. */
export function noopWorkers(address: string, options: { concurrency: number; workerId: string; types?: readonly string[]; stamps?: Stamps }): NoopWorkers {
  const worker = new Worker({ address, workerId: options.workerId, minBackoffMs: 50, maxBackoffMs: 1000 });
  const counts = new Map<string, number>();
  const stamps = options.stamps;
  for (const type of options.types ?? TASK_TYPES) {
    counts.set(type, 0);
    worker.handle<{ n?: number }>(
      type,
      (input, context) => {
        stamps?.received.set(context.taskId, wallMs());
        counts.set(type, counts.get(type)! + 1);
        const output = { n: (input.n ?? 0) + 1 };
        stamps?.returned.set(context.taskId, wallMs());
        return output;
      },
      { concurrency: options.concurrency },
    );
  }
  worker.start();
  return { worker, counts, stop: () => worker.stop() };
}
