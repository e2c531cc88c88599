// The polyglot benchmark: the same no-op task served by ONE worker process in
// TypeScript, Go or Java, against one server process on one PostgreSQL.
//
//   node --import tsx test/bench/polyglot.ts [--quick] [--address host:port]
//
// For each language, in turn:
// - throughput: N single-task runs, 64 at a time from this process
//   (executeWorkflow: start and wait), against one worker with concurrency 32;
//   tasks/s is N over the wall time of the whole batch (after a warm-up);
// - dispatch latency: one run at a time; the time from the task becoming ready
//   (its scheduledTime, stamped by the server in whole milliseconds, plus
//   0.5 ms for the truncation) to the worker's handler holding it (the worker
//   stamps that on the machine's wall clock, sub-millisecond, and returns it
//   as its output). All processes run on this machine, so the clocks agree.
//
// Without --address it starts an embedded PostgreSQL and a server process
// (server/dist/main.js: run `npm run build` first) and stops them at the end.
// The Go and Java workers are built as in test/polyglot (minutes the first
// time on a fresh machine).
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { BatonClient } from "@baton/client";
import { startEmbeddedPostgres } from "@baton/server";
import { buildGoWorker, buildJavaWorker, repoRoot, startWorker, type Lang, type WorkerProcess } from "../polyglot/support.js";

export interface PolyglotRow {
  worker: Lang;
  tasksPerSecond: number;
  dispatchP50Ms: number;
  dispatchP99Ms: number;
  /** Tasks in the throughput batch. */
  tasks: number;
}

export interface PolyglotOptions {
  quick: boolean;
  /** A running server to use instead of starting one. */
  address?: string;
  /** Languages to measure, in order (default ts, go, java). */
  workers?: Lang[];
  /** Progress lines (default: none). */
  log?: (line: string) => void;
}

const WORKER_CONCURRENCY = 32;
const DRIVER_CONCURRENCY = 64;

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

const round = (n: number, digits: number): number => Number(n.toFixed(digits));

/** A server process on its own embedded PostgreSQL. */
async function startOwnServer(log: (line: string) => void): Promise<{ address: string; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(path.join(tmpdir(), "baton-bench-polyglot-pg-"));
  const database = await startEmbeddedPostgres({ dataDir });
  let child: ChildProcess | undefined;
  const stop = async () => {
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise((r) => child!.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child!.kill("SIGKILL"), 15_000);
      await exited;
      clearTimeout(timer);
    }
    await database.stop();
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    child = spawn(process.execPath, [path.join(repoRoot, "server/dist/main.js")], {
      env: { ...process.env, BATON_DATABASE_URL: database.url, BATON_HOST: "127.0.0.1", BATON_PORT: "0", BATON_LOG_LEVEL: "warn" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr!.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-5000)));
    const address = await new Promise<string>((resolve, reject) => {
      let out = "";
      child!.stdout!.on("data", (d: Buffer) => {
        out += d.toString();
        const match = /listening (\S+)/.exec(out);
        if (match) resolve(match[1]!);
      });
      child!.once("exit", (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
    });
    child.stdout!.resume();
    log(`server at ${address}`);
    return { address, stop };
  } catch (error) {
    await stop();
    throw error;
  }
}

async function measure(
  client: BatonClient,
  address: string,
  lang: Lang,
  counts: { warmup: number; tasks: number; latency: number },
  log: (line: string) => void,
): Promise<PolyglotRow> {
  const taskType = `bench_noop_${lang}`;
  const flow = `bench_polyglot_${lang}`;
  await client.registerTaskDefs([{ name: taskType, retryCount: 0, timeoutSeconds: 0, responseTimeoutSeconds: 300 }]);
  await client.registerWorkflowDef({
    name: flow,
    version: 1,
    schemaVersion: 2,
    tasks: [{ name: taskType, taskReferenceName: "noop", type: "SIMPLE", inputParameters: { i: "${workflow.input.i}" } }],
    outputParameters: { receivedAtMs: "${noop.output.receivedAtMs}" },
  });

  let worker: WorkerProcess | undefined;
  try {
    worker = await startWorker(lang, { address, workerId: `bench-${lang}`, concurrency: WORKER_CONCURRENCY });
    await worker.waitFor((e) => e.event === "ready", 120_000);

    const batch = async (n: number): Promise<number> => {
      let next = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: Math.min(DRIVER_CONCURRENCY, n) }, async () => {
          while (next < n) {
            const i = next++;
            const run = await client.executeWorkflow(flow, { i }, { waitMs: 60_000 });
            if (run.status !== "COMPLETED") throw new Error(`${lang}: run ${run.workflowId} ended ${run.status} ${run.reasonForIncompletion ?? ""}`);
          }
        }),
      );
      return (performance.now() - t0) / 1000;
    };
    // One run alone first: it loads the definition into the server's cache.
    // (Many events at once on a cold cache can exhaust the server's pool:
    // the todo test in test/faults/pool.test.ts.)
    await batch(1);
    await batch(counts.warmup);
    const seconds = await batch(counts.tasks);
    const tasksPerSecond = counts.tasks / seconds;
    log(`${lang}: ${counts.tasks} tasks in ${seconds.toFixed(2)} s, ${tasksPerSecond.toFixed(0)} tasks/s`);

    const latencies: number[] = [];
    for (let i = 0; i < counts.latency; i++) {
      const id = await client.startWorkflow(flow, { i });
      const run = await client.waitWorkflow(id, 30_000, true);
      const task = run.tasks[0];
      const received = Number((task?.outputData as { receivedAtMs?: unknown } | undefined)?.receivedAtMs);
      if (run.status !== "COMPLETED" || !task || !Number.isFinite(received)) throw new Error(`${lang}: latency run ${id} ended ${run.status}`);
      latencies.push(received - (task.scheduledTime + 0.5));
    }
    latencies.sort((a, b) => a - b);
    const row: PolyglotRow = {
      worker: lang,
      tasksPerSecond: round(tasksPerSecond, 1),
      dispatchP50Ms: round(percentile(latencies, 50), 2),
      dispatchP99Ms: round(percentile(latencies, 99), 2),
      tasks: counts.tasks,
    };
    log(`${lang}: dispatch p50 ${row.dispatchP50Ms} ms, p99 ${row.dispatchP99Ms} ms over ${latencies.length} runs`);
    return row;
  } finally {
    await worker?.stop();
  }
}

export async function runPolyglotBench(options: PolyglotOptions): Promise<{ rows: PolyglotRow[] }> {
  const log = options.log ?? (() => {});
  const langs = options.workers ?? (["ts", "go", "java"] as Lang[]);
  const counts = options.quick ? { warmup: 100, tasks: 500, latency: 50 } : { warmup: 500, tasks: 5000, latency: 300 };
  // Builds first: on a fresh machine they download modules and artifacts.
  await Promise.all([langs.includes("go") ? buildGoWorker() : undefined, langs.includes("java") ? buildJavaWorker() : undefined]);
  log("workers built");
  const server = options.address ? { address: options.address, stop: async () => {} } : await startOwnServer(log);
  const client = new BatonClient({ address: server.address });
  try {
    const rows: PolyglotRow[] = [];
    for (const lang of langs) rows.push(await measure(client, server.address, lang, counts, log));
    return { rows };
  } finally {
    client.close();
    await server.stop();
  }
}

export function renderPolyglotTable(rows: PolyglotRow[]): string {
  const header = ["worker", "tasks", "tasks/s", "dispatch p50 ms", "dispatch p99 ms"];
  const body = rows.map((r) => [r.worker, String(r.tasks), r.tasksPerSecond.toFixed(0), r.dispatchP50Ms.toFixed(2), r.dispatchP99Ms.toFixed(2)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join("  ");
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...body.map(line)].join("\n");
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const argv = process.argv.slice(2);
  const at = argv.indexOf("--address");
  const address = at >= 0 ? argv[at + 1] : undefined;
  const { rows } = await runPolyglotBench({
    quick: argv.includes("--quick"),
    ...(address ? { address } : {}),
    log: (line) => console.error(line),
  });
  console.log(renderPolyglotTable(rows));
}
