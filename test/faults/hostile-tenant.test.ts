// A hostile tenant (issue 14, points 1 and 2): one small UpdateTask whose JSON
// used to take quadratic time, a DO_WHILE whose body spins `while(true){}`, a
// jq filter that never ends, thousands of NOOP loop iterations, and a JSONPath
// filter with a catastrophic regular expression, all at once and repeated,
// while a well-behaved flow runs and /healthz is polled. What must hold: user
// code runs off the serving thread, so no health answer waits as long as one
// script's limit (1 s), every hostile run ends, and the well-behaved flow
// keeps going. Prints health p99 and the well-behaved flow's throughput before
// and during. Reduced under `npm test`, full under `npm run faults`.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { after, describe, it } from "node:test";
import { Worker } from "node:worker_threads";
import { BatonClient, type ConductorWorkflow } from "@baton/client";
import { freshDatabase, stopCluster } from "../support/database.js";
import { FULL, percentile, scale, sleep } from "./lib/config.js";
import { figures, report } from "./lib/report.js";
import { freePort, startServerProcess, stopServer, type ServerProc } from "./lib/server.js";

const ITERATIONS = scale(1_000, 5_000);
const REPEATS = scale(1, 3);
const REGEX_AS = scale(26, 30);
const JSON_QUOTES = scale(30_000, 1_000_000);

const wellBehaved = {
  name: "polite",
  version: 1,
  schemaVersion: 2,
  tasks: [
    { name: "n", taskReferenceName: "n", type: "NOOP" },
    { name: "v", taskReferenceName: "v", type: "SET_VARIABLE", inputParameters: { done: true } },
  ],
};
const hostile = [
  {
    name: "spin_in_loop",
    version: 1,
    schemaVersion: 2,
    tasks: [
      {
        name: "loop",
        taskReferenceName: "loop",
        type: "DO_WHILE",
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
      },
    ],
  },
  {
    name: "endless_jq",
    version: 1,
    schemaVersion: 2,
    tasks: [{ name: "jq", taskReferenceName: "jq", type: "JSON_JQ_TRANSFORM", inputParameters: { queryExpression: "def f: f; f" } }],
  },
  {
    name: "many_noops",
    version: 1,
    schemaVersion: 2,
    tasks: [
      {
        name: "loop",
        taskReferenceName: "loop",
        type: "DO_WHILE",
        inputParameters: { items: "${workflow.input.items}" },
        loopOver: [{ name: "n", taskReferenceName: "n", type: "NOOP" }],
      },
    ],
  },
  {
    name: "catastrophic_regex",
    version: 1,
    schemaVersion: 2,
    tasks: [{ name: "n", taskReferenceName: "n", type: "NOOP", inputParameters: { hits: "${workflow.input.list[?(@.s.match(/^(a+)+$/))]}" } }],
  },
];

let proc: ServerProc | undefined;
after(async () => {
  // Gracefully, so a server profiled with BATON_FAULTS_PROFILE writes its profile.
  if (proc) await stopServer(proc, "SIGTERM");
  await stopCluster();
});

// The health poller runs on a thread of its own: this thread also drives the
// load (encoding 2 MiB requests, decoding runs of thousands of tasks), and its
// stalls would be counted as the server's. Each probe opens its own
// connection, as an orchestrator's liveness probe does (a kept-alive one can
// be closed by the server just as a probe is sent, which is no failure of it).
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

/** GETs /healthz one after another until stopped; each answer's latency in ms. */
function pollHealth(url: string): { stop: () => Promise<number[]> } {
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
function politeLoad(client: BatonClient, concurrency: number): { stop: () => Promise<number> } {
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

/** The server's own event-loop delay since the last scrape (prom-client resets it on each), p99 and max in ms. */
async function serverLoopLag(metricsUrl: string): Promise<{ p99: number; max: number }> {
  const text = await (await fetch(metricsUrl)).text();
  const read = (name: string) => Number(new RegExp(`^${name} (\\S+)`, "m").exec(text)?.[1] ?? NaN) * 1000;
  return { p99: read("nodejs_eventloop_lag_p99_seconds"), max: read("nodejs_eventloop_lag_max_seconds") };
}

async function ended(client: BatonClient, id: string, timeoutMs: number): Promise<ConductorWorkflow> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const run = await client.getWorkflow(id, { includeTasks: false });
    if (run.status !== "RUNNING") return client.getWorkflow(id);
    assert.ok(Date.now() < deadline, `run ${id} (${run.workflowName}) still RUNNING after ${timeoutMs} ms`);
    await sleep(100);
  }
}

describe("a hostile tenant", () => {
  it("cannot stall the server: health answers and a well-behaved flow goes on while its scripts, jq, loops, regex and JSON run", async () => {
    const metricsPort = await freePort();
    proc = await startServerProcess({ databaseUrl: await freshDatabase(), env: { BATON_METRICS_PORT: String(metricsPort) } });
    const client = new BatonClient({ address: proc.address });
    for (const def of [wellBehaved, ...hostile]) await client.registerWorkflowDef(def);
    const health = `http://127.0.0.1:${metricsPort}/healthz`;

    // Before: the well-behaved flow alone.
    const quietMs = scale(2_000, 10_000);
    let healthPoll = pollHealth(health);
    let polite = politeLoad(client, 4);
    await sleep(quietMs);
    const quietRuns = await polite.stop();
    const quietHealth = await healthPoll.stop();

    // During: every probe, REPEATS times, all at once.
    healthPoll = pollHealth(health);
    polite = politeLoad(client, 4);
    const began = performance.now();
    const loadBefore = loadavg()[0]!;
    await serverLoopLag(`http://127.0.0.1:${metricsPort}/metrics`);
    // This process's own stalls delay the health answers it times: measured, to tell them from the server's.
    const ownDelay = monitorEventLoopDelay({ resolution: 10 });
    ownDelay.enable();
    const starts: Promise<string>[] = [];
    const jsonCalls: Promise<number>[] = [];
    for (let r = 0; r < REPEATS; r++) {
      starts.push(client.startWorkflow("spin_in_loop"));
      starts.push(client.startWorkflow("endless_jq"));
      starts.push(client.startWorkflow("many_noops", { items: Array.from({ length: ITERATIONS }, (_, i) => i) }));
      starts.push(client.startWorkflow("catastrophic_regex", { list: [{ s: "a".repeat(REGEX_AS) + "!" }, { s: "aaa" }] }));
      // Point 1: an unterminated run of \" pairs after a 16-digit number, on a task id that does not exist.
      const t0 = performance.now();
      const outputJson = '{"a":1234567890123456,"b":"' + '\\"'.repeat(JSON_QUOTES);
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
    const runs = await Promise.all(ids.map((id) => ended(client, id, scale(120_000, 600_000))));
    const jsonMs = await Promise.all(jsonCalls);
    const hostileMs = performance.now() - began;
    const loudRuns = await polite.stop();
    const loudHealth = await healthPoll.stop();
    ownDelay.disable();
    const serverLag = await serverLoopLag(`http://127.0.0.1:${metricsPort}/metrics`);
    client.close();

    const byName = (name: string) => runs.filter((r) => r.workflowName === name);
    for (const run of byName("spin_in_loop")) {
      assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
      const spins = run.tasks.filter((t) => t.taskType === "INLINE");
      assert.equal(spins.length, 3);
      for (const t of spins) assert.match(t.reasonForIncompletion ?? "", /ran longer than its 1000 ms limit/);
    }
    for (const run of byName("endless_jq")) {
      assert.equal(run.status, "FAILED");
      assert.match(run.tasks[0]!.reasonForIncompletion ?? "", /jq ran longer than its 2000 ms limit/);
    }
    for (const run of byName("many_noops")) {
      assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
      assert.equal(run.tasks.length, ITERATIONS + 1);
    }
    for (const run of byName("catastrophic_regex")) {
      assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
      assert.deepEqual(run.tasks[0]!.inputData, { hits: [{ s: "aaa" }] });
    }

    const p99 = percentile(loudHealth, 99);
    const max = Math.max(...loudHealth);
    report(
      figures(
        `hostile tenant${FULL ? "" : " (reduced)"}`,
        `${REPEATS}x (3 spinning scripts, endless jq, ${ITERATIONS} NOOP iterations, regex on ${REGEX_AS} a's, ${JSON_QUOTES} \\" JSON) + 4 polite callers`,
        "none",
        undefined,
        {
          healthP99QuietMs: percentile(quietHealth, 99),
          healthMaxQuietMs: Math.max(...quietHealth),
          healthP99HostileMs: p99,
          healthMaxHostileMs: max,
          healthAnswersHostile: loudHealth.length,
          politePerSecQuiet: quietRuns / (quietMs / 1000),
          politePerSecHostile: loudRuns / (hostileMs / 1000),
          hostileSeconds: hostileMs / 1000,
          jsonUpdateMaxMs: Math.max(...jsonMs),
          serverLoopLagP99Ms: serverLag.p99,
          serverLoopLagMaxMs: serverLag.max,
          testLoopDelayP99Ms: ownDelay.percentile(99) / 1e6,
          testLoopDelayMaxMs: ownDelay.max / 1e6,
          loadAvg1mBefore: loadBefore,
          loadAvg1mAfter: loadavg()[0]!,
        },
      ),
    );
    // Had the spinning loop's scripts run on the serving thread, one decision would have held it for their three
    // 1 s limits, and a health answer would have waited that long beyond the slowest one without hostile runs
    // (generous margin: on a busy machine any answer may wait for the CPU).
    const quietMax = Math.max(500, ...quietHealth);
    assert.ok(
      max < quietMax + 2000,
      `a health answer took ${max.toFixed(0)} ms (${quietMax.toFixed(0)} ms at most before): user code ran on the serving thread`,
    );
    assert.ok(loudRuns > 0, "the well-behaved flow made no progress while the hostile runs ran");
    if (FULL) assert.ok(p99 < 100, `health p99 ${p99.toFixed(1)} ms while hostile runs ran`);
  });
});
