// Reading a large run cannot stall the server (issue 14): a run of 5,001
// tasks, read again and again through gRPC GetWorkflow, Conductor's REST
// GET /api/workflow/{id} and /api/workflow/{name}/correlated/{id} and the
// console's Connect port, while /healthz is polled (started through REST's
// start-and-wait, whose answer is the whole run too). Before, each read held the server's event loop for the whole run
// at once (building the reply's messages, then encoding them), hundreds of
// milliseconds to seconds per read; now it is done in slices that let other
// calls in between. The answers stay what they were: each read is checked
// against the run, and REST's answers against the text of GET /api/workflow/{id}. No latency is asserted beyond one generous bound: on a
// shared machine a figure says more than a verdict.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { BatonClient } from "@baton/client";
import { GetWorkflowRequestSchema, GetWorkflowResponseSchema } from "@baton/protocol";
import { freshDatabase, stopCluster } from "../support/database.js";
import { oneLoop } from "../support/flows.js";
import { percentile, sleep } from "../faults/lib/config.js";
import { pollHealth, serverLoopLag } from "../faults/lib/hostile.js";
import { freePort, startServerProcess, stopServer, type ServerProc } from "../faults/lib/server.js";

const ITERATIONS = 5_000;

/** Equal texts; else where they part (megabytes of text would not help in a failure). */
function sameText(actual: string, expected: string, what: string): void {
  if (actual === expected) return;
  let at = 0;
  while (at < Math.min(actual.length, expected.length) && actual[at] === expected[at]) at++;
  const around = (text: string) => JSON.stringify(text.slice(Math.max(0, at - 80), at + 80));
  assert.fail(`${what}: ${actual.length} characters, ${expected.length} expected; from ${at}: ${around(actual)}, expected ${around(expected)}`);
}
// Each task's input holds this much text, as a worker's payload would (a read of the whole run took seconds before).
const BLOB = "x".repeat(2_000);
const READS = 4; // per way of reading

let proc: ServerProc | undefined;
after(async () => {
  if (proc) await stopServer(proc, "SIGTERM");
  await stopCluster();
});

describe("a large run", () => {
  it("is read again and again through gRPC, REST and the console while /healthz keeps answering", { timeout: 600_000 }, async () => {
    const [metricsPort, restPort, consolePort] = [await freePort(), await freePort(), await freePort()];
    proc = await startServerProcess({
      databaseUrl: await freshDatabase(),
      env: { BATON_METRICS_PORT: String(metricsPort), BATON_CONDUCTOR_PORT: String(restPort), BATON_CONSOLE_PORT: String(consolePort) },
    });
    const client = new BatonClient({ address: proc.address });
    await client.registerWorkflowDef(
      oneLoop("large_run", {
        inputParameters: { items: "${workflow.input.items}" },
        loopOver: [{ name: "n", taskReferenceName: "n", type: "NOOP", inputParameters: { blob: "${workflow.input.blob}" } }],
      }),
    );
    const rest = (path: string, init?: RequestInit) => fetch(`http://127.0.0.1:${restPort}/api/workflow${path}`, init);
    // Started and waited for through Conductor's start-and-wait, whose answer is the whole run.
    const executed = await rest(`/execute/large_run/1?waitForSeconds=300&requestId=r1`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ correlationId: "large", input: { items: Array.from({ length: ITERATIONS }, (_, i) => i), blob: BLOB } }),
    });
    assert.equal(executed.status, 200);
    const executedText = await executed.text();
    const { workflowId: id, status } = JSON.parse(executedText) as { workflowId: string; status: string };
    assert.equal(status, "COMPLETED");
    const health = `http://127.0.0.1:${metricsPort}/healthz`;

    // Answers written in slices are the text of the whole written at once: each as GET /api/workflow/{id} writes the run.
    const wholeText = await (await rest(`/${id}`)).text();
    // The start-and-wait answer leaves the definition out (as before), and adds the request id.
    const { workflowDefinition: _, ...executedShape } = JSON.parse(wholeText) as Record<string, unknown>;
    sameText(executedText, JSON.stringify({ ...executedShape, requestId: "r1" }), "start-and-wait");
    const correlatedText = async () => (await rest(`/large_run/correlated/large?includeClosed=true&includeTasks=true`)).text();
    sameText(await correlatedText(), `[${wholeText}]`, "correlated");
    const bulk = await rest(`/large_run/correlated?includeClosed=true&includeTasks=true`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(["large", "none"]),
    });
    sameText(await bulk.text(), `{"large":[${wholeText}],"none":[]}`, "correlated, in bulk");
    // A task read by its id alone is the task as the run's answer writes it.
    const tasks = (JSON.parse(wholeText) as { tasks: { taskId: string }[] }).tasks;
    for (const task of [tasks[0]!, tasks[ITERATIONS]!]) {
      const byId = await fetch(`http://127.0.0.1:${restPort}/api/tasks/${task.taskId}`);
      sameText(await byId.text(), JSON.stringify(task), "a task by its id");
    }
    const summaryText = await (await rest(`/${id}?includeTasks=false`)).text();
    sameText(await (await rest(`/search-v2?freeText=${id}`)).text(), `{"totalHits":1,"results":[${summaryText}]}`, "search-v2");

    // Health alone, then while the run is read.
    let poll = pollHealth(health);
    await sleep(2_000);
    const quiet = await poll.stop();

    poll = pollHealth(health);
    await serverLoopLag(`http://127.0.0.1:${metricsPort}/metrics`);
    const grpc = async () => {
      for (let i = 0; i < READS; i++) {
        const run = await client.getWorkflow(id);
        assert.equal(run.tasks.length, ITERATIONS + 1);
        assert.deepEqual(run.tasks[ITERATIONS]!.inputData, { blob: BLOB });
      }
    };
    const viaRest = async () => {
      for (let i = 0; i < READS; i++) {
        const run = (await (await rest(`/${id}`)).json()) as { tasks: { inputData: unknown }[] };
        assert.equal(run.tasks.length, ITERATIONS + 1);
        assert.deepEqual(run.tasks[ITERATIONS]!.inputData, { blob: BLOB });
        sameText(await correlatedText(), `[${wholeText}]`, "correlated");
      }
    };
    // As the console asks: Connect, binary.
    const viaConsole = async () => {
      for (let i = 0; i < READS; i++) {
        const response = await fetch(`http://127.0.0.1:${consolePort}/baton.v1.WorkflowService/GetWorkflow`, {
          method: "POST",
          headers: { "content-type": "application/proto" },
          body: toBinary(GetWorkflowRequestSchema, create(GetWorkflowRequestSchema, { workflowId: id, includeTasks: true })),
        });
        assert.equal(response.status, 200);
        const { workflow } = fromBinary(GetWorkflowResponseSchema, new Uint8Array(await response.arrayBuffer()));
        assert.equal(workflow?.tasks.length, ITERATIONS + 1);
        // The payload as PostgreSQL writes its text (GetWorkflow sends it unparsed): the same JSON, spaced its way.
        assert.deepEqual(JSON.parse(workflow.tasks[ITERATIONS]!.inputJson), { blob: BLOB });
      }
    };
    const began = performance.now();
    // The poller stops however the reads end: left polling, a failed read kept the test file from ending.
    const reads = Promise.all([grpc(), viaRest(), viaConsole()]);
    await reads.catch(() => undefined);
    const readMs = performance.now() - began;
    const loud = await poll.stop();
    const lag = await serverLoopLag(`http://127.0.0.1:${metricsPort}/metrics`);
    client.close();
    await reads;

    const quietMax = Math.max(...quiet);
    const max = Math.max(...loud);
    console.log(
      `[security] /healthz while a ${ITERATIONS + 1}-task run was read ${4 * READS} times (${(readMs / 1000).toFixed(1)} s): ` +
        `p99 ${percentile(loud, 99).toFixed(1)} ms, max ${max.toFixed(1)} ms (alone: p99 ${percentile(quiet, 99).toFixed(1)} ms, max ${quietMax.toFixed(1)} ms); ` +
        `the server's event-loop lag p99 ${lag.p99.toFixed(1)} ms, max ${lag.max.toFixed(1)} ms`,
    );
    // Had one read held the event loop for the whole run, a health answer would have waited for it
    // (generous margin: on a busy machine any answer may wait for the CPU).
    assert.ok(
      max < Math.max(500, quietMax) + 1000,
      `a health answer took ${max.toFixed(0)} ms (${quietMax.toFixed(0)} ms at most alone): a read of the run held the server`,
    );
  });
});
