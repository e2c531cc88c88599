// A hostile tenant (issue 14, points 1 and 2) and how the server is watched
// meanwhile, shared by the fault test (test/faults/hostile-tenant.test.ts) and
// the bench's "hostile" scenario: one small UpdateTask whose JSON used to take
// quadratic time, a DO_WHILE whose body spins `while(true){}`, a jq filter that
// never ends, thousands of NOOP loop iterations and a JSONPath filter with a
// catastrophic regular expression, while a well-behaved flow runs and
// /healthz is probed.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { Worker } from "node:worker_threads";
import type { BatonClient, ConductorWorkflow } from "@baton/client";
import { flowOf, oneLoop } from "../../support/flows.js";

/** The goal (issue 14, point 2): /healthz answers within this, p99, while a hostile tenant's runs run. */
export const HEALTH_GOAL_MS = 100;

/** How much of each probe: `repeats` times every hostile run at once. */
export interface HostileScale {
  iterations: number;
  repeats: number;
  /** Length of the run of a's the catastrophic regex is tried on. */
  regexAs: number;
  /** Pairs of \" in the unterminated JSON string of point 1. */
  jsonQuotes: number;
}

export const POLITE = flowOf("polite", [
  { name: "n", taskReferenceName: "n", type: "NOOP" },
  { name: "v", taskReferenceName: "v", type: "SET_VARIABLE", inputParameters: { done: true } },
]);

export const HOSTILE = [
  oneLoop("spin_in_loop", {
    inputParameters: { items: [1, 2, 3] },
    loopOver: [
      {
        name: "spin",
        taskReferenceName: "spin",
        type: "INLINE",
        optional: true,
        inputParameters: { evaluatorType: "javascript", expression: "while (true) {}" },
      },
    ],
  }),
  flowOf("endless_jq", [{ name: "jq", taskReferenceName: "jq", type: "JSON_JQ_TRANSFORM", inputParameters: { queryExpression: "def f: f; f" } }]),
  oneLoop("many_noops", { inputParameters: { items: "${workflow.input.items}" }, loopOver: [{ name: "n", taskReferenceName: "n", type: "NOOP" }] }),
  flowOf("catastrophic_regex", [
    { name: "n", taskReferenceName: "n", type: "NOOP", inputParameters: { hits: "${workflow.input.list[?(@.s.match(/^(a+)+$/))]}" } },
  ]),
];

export async function registerHostileFlows(client: BatonClient): Promise<void> {
  for (const def of [POLITE, ...HOSTILE]) await client.registerWorkflowDef(def);
}

/**
 * Starts every hostile run `repeats` times at once and sends point 1's JSON;
 * resolves when all of them ended, with their ids and how long each JSON call
 * took. Only their status is read meanwhile: reading a run of thousands of
 * tasks whole is the checker's own load, done after the probes stopped.
 */
export async function attack(client: BatonClient, scale: HostileScale, endWithinMs: number): Promise<{ ids: string[]; jsonMs: number[] }> {
  const starts: Promise<string>[] = [];
  const jsonCalls: Promise<number>[] = [];
  for (let r = 0; r < scale.repeats; r++) {
    starts.push(client.startWorkflow("spin_in_loop"));
    starts.push(client.startWorkflow("endless_jq"));
    starts.push(client.startWorkflow("many_noops", { items: Array.from({ length: scale.iterations }, (_, i) => i) }));
    starts.push(client.startWorkflow("catastrophic_regex", { list: [{ s: "a".repeat(scale.regexAs) + "!" }, { s: "aaa" }] }));
    // Point 1: an unterminated run of \" pairs after a 16-digit number, on a task id that does not exist.
    const t0 = performance.now();
    const outputJson = '{"a":1234567890123456,"b":"' + '\\"'.repeat(scale.jsonQuotes);
    jsonCalls.push(
      client.tasks
        .updateTask({
          result: {
            taskId: randomUUID(),
            leaseToken: "x",
            status: 3,
            outputJson,
            reasonForIncompletion: "",
            callbackAfterSeconds: 0n,
            logs: [],
            workerId: "hostile",
          },
        })
        .then(
          () => performance.now() - t0,
          () => performance.now() - t0,
        ),
    );
  }
  const ids = await Promise.all(starts);
  for (const id of ids) await ended(client, id, endWithinMs);
  return { ids, jsonMs: await Promise.all(jsonCalls) };
}

/** What must hold of the hostile runs once ended: each was stopped by its limit, or completed. */
export async function checkHostileRuns(client: BatonClient, ids: string[], scale: HostileScale): Promise<void> {
  const runs: ConductorWorkflow[] = [];
  for (const id of ids) runs.push(await client.getWorkflow(id));
  const byName = (name: string) => runs.filter((r) => r.workflowName === name);
  for (const run of byName("spin_in_loop")) {
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    const spins = run.tasks.filter((t) => t.taskType === "INLINE");
    assert.equal(spins.length, 3);
    for (const t of spins) assert.match(t.reasonForIncompletion ?? "", /its 1000 ms of CPU time/);
  }
  for (const run of byName("endless_jq")) {
    assert.equal(run.status, "FAILED");
    assert.match(run.tasks[0]!.reasonForIncompletion ?? "", /^jq .*its 2000 ms of CPU time/);
  }
  for (const run of byName("many_noops")) {
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.equal(run.tasks.length, scale.iterations + 1);
  }
  for (const run of byName("catastrophic_regex")) {
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.deepEqual(run.tasks[0]!.inputData, { hits: [{ s: "aaa" }] });
  }
}

async function ended(client: BatonClient, id: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await client.getWorkflow(id, { includeTasks: false });
    if (run.status !== "RUNNING") return;
    assert.ok(Date.now() < deadline, `run ${id} (${run.workflowName}) still RUNNING after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// The health poller runs on a thread of its own: the caller's thread also
// drives the load (encoding 2 MiB requests, decoding runs of thousands of
// tasks), and its stalls would be counted as the server's. Each probe opens
// its own connection, as an orchestrator's liveness probe does (a kept-alive
// one can be closed by the server just as a probe is sent, which is no
// failure of it).
const HEALTH_POLLER = `
const { parentPort, workerData } = require("node:worker_threads");
const http = require("node:http");
let running = true;
const latencies = [];
parentPort.on("message", () => (running = false));
const probe = () =>
  new Promise((resolve, reject) => {
    const request = http.get(workerData.url, { agent: false }, (response) => {
      response.resume();
      response.on("end", () => resolve(response.statusCode));
    });
    request.on("error", reject);
  });
(async () => {
  while (running) {
    const t0 = performance.now();
    const status = await probe();
    if (status !== 200) throw new Error("/healthz answered " + status);
    latencies.push(performance.now() - t0);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  parentPort.postMessage({ latencies });
})().catch((error) => parentPort.postMessage({ error: String(error) }));
`;

/** How often a caller of /healthz comes, for withOmittedSamples: about the poller's pace (5 ms apart plus its answer) on a quiet server. */
export const HEALTH_INTERVAL_MS = 10;

/**
 * `latencies` with the samples a stall swallowed (coordinated omission): the
 * poller asks again only after an answer, so a 5 s stall counts as one
 * sample, where callers coming every `intervalMs` would each have waited out
 * what was left of it. Each answer of L ms adds L - interval, L - 2 ×
 * interval, … down to the interval (HdrHistogram's correction for an expected
 * interval): the figures of a fixed-rate caller.
 */
export function withOmittedSamples(latencies: number[], intervalMs = HEALTH_INTERVAL_MS): number[] {
  const out: number[] = [];
  for (const latency of latencies) {
    out.push(latency);
    for (let missed = latency - intervalMs; missed >= intervalMs; missed -= intervalMs) out.push(missed);
  }
  return out;
}

/** GETs /healthz one after another until stopped; each answer's latency in ms. */
export function pollHealth(url: string): { stop: () => Promise<number[]> } {
  const worker = new Worker(HEALTH_POLLER, { eval: true, workerData: { url } });
  const answered = new Promise<number[]>((resolve, reject) => {
    worker.once("message", (m: { latencies?: number[]; error?: string }) => (m.error ? reject(new Error(m.error)) : resolve(m.latencies ?? [])));
    worker.once("error", reject);
  });
  return {
    stop: async () => {
      worker.postMessage("stop");
      const latencies = await answered;
      await worker.terminate();
      return latencies;
    },
  };
}

/** Runs the well-behaved flow in a closed loop until stopped; how many completed. */
export function politeLoad(client: BatonClient, concurrency: number): { stop: () => Promise<number> } {
  let running = true;
  let completed = 0;
  const loops = Array.from({ length: concurrency }, async () => {
    while (running) {
      const run = await client.executeWorkflow("polite", {}, { waitMs: 30_000 });
      assert.equal(run.status, "COMPLETED");
      completed++;
    }
  });
  return {
    stop: async () => {
      running = false;
      await Promise.all(loops);
      return completed;
    },
  };
}

/**
 * The server's own event-loop delay since the last scrape (prom-client resets
 * it on each), p99 and max in ms: what kept /healthz waiting, measured inside
 * the server, so far less dependent on the machine's load than a probe is.
 */
export async function serverLoopLag(metricsUrl: string): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1] ?? NaN) * 1000;
  return { p99: read("nodejs_eventloop_lag_p99_seconds"), max: read("nodejs_eventloop_lag_max_seconds") };
}

/**
 * What the server's budget of unsent answers did so far (from its `/metrics`):
 * answers that waited for room and that were refused. The polite flow's
 * answers are small and read at once: both stay 0 unless a caller stops reading.
 */
export async function serverAnswerWaits(metricsUrl: string): Promise<{ waited: number; refused: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const sum = (name: string) => [...text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)`, "gm"))].reduce((n, m) => n + Number(m[1]), 0);
  return { waited: sum("baton_answers_waited_total"), refused: sum("baton_answers_refused_total") };
}

/** The server's garbage-collection pauses so far, by kind (minor, major, incremental, weakcb): their number and total ms. */
export type GcPauses = Record<string, { count: number; ms: number }>;

/**
 * Reads the server's GC pauses from its `/metrics` (prom-client's
 * nodejs_gc_duration_seconds, cumulative): a count, not a wall time, so two
 * builds compare on a busy machine; subtract two readings for a window.
 */
export async function serverGcPauses(metricsUrl: string): Promise<GcPauses> {
  const text = await (await fetch(metricsUrl)).text();
  const pauses: GcPauses = {};
  for (const [, part, kind, value] of text.matchAll(/^nodejs_gc_duration_seconds_(sum|count)\{kind="(\w+)"\} (\S+)/gm)) {
    const entry = (pauses[kind!] ??= { count: 0, ms: 0 });
    if (part === "sum") entry.ms = Number(value) * 1000;
    else entry.count = Number(value);
  }
  return pauses;
}

/** The pauses between two readings. */
export function gcPausesBetween(before: GcPauses, after: GcPauses): GcPauses {
  const between: GcPauses = {};
  for (const [kind, { count, ms }] of Object.entries(after)) {
    between[kind] = { count: count - (before[kind]?.count ?? 0), ms: Math.round(ms - (before[kind]?.ms ?? 0)) };
  }
  return between;
}

/** The one line that says whether the goal was met. */
export function healthVerdict(p99: number): string {
  return `/healthz p99 under the hostile load: ${p99.toFixed(1)} ms (goal < ${HEALTH_GOAL_MS} ms: ${p99 < HEALTH_GOAL_MS ? "met" : "NOT met"})`;
}
