// Reading a large run cannot stall the server (issue 14): a run of 5,001
// tasks, read again and again through gRPC GetWorkflow, Conductor's REST
// GET /api/workflow/{id} and the console's Connect port, while /healthz is
// polled. Before, each read held the server's event loop for the whole run
// at once (building the reply's messages, then encoding them), hundreds of
// milliseconds to seconds per read; now it is done in slices that let other
// calls in between. The answers stay what they were: each read is checked
// against the run. No latency is asserted beyond one generous bound: on a
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
    const id = await client.startWorkflow("large_run", { items: Array.from({ length: ITERATIONS }, (_, i) => i), blob: BLOB });
    for (;;) {
      const run = await client.getWorkflow(id, { includeTasks: false });
      if (run.status !== "RUNNING") break;
      await sleep(200);
    }
    const health = `http://127.0.0.1:${metricsPort}/healthz`;

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
    const rest = async () => {
      for (let i = 0; i < READS; i++) {
        const run = (await (await fetch(`http://127.0.0.1:${restPort}/api/workflow/${id}`)).json()) as { tasks: { inputData: unknown }[] };
        assert.equal(run.tasks.length, ITERATIONS + 1);
        assert.deepEqual(run.tasks[ITERATIONS]!.inputData, { blob: BLOB });
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
        assert.equal(workflow.tasks[ITERATIONS]!.inputJson, JSON.stringify({ blob: BLOB }));
      }
    };
    const began = performance.now();
    await Promise.all([grpc(), rest(), viaConsole()]);
    const readMs = performance.now() - began;
    const loud = await poll.stop();
    const lag = await serverLoopLag(`http://127.0.0.1:${metricsPort}/metrics`);
    client.close();

    const quietMax = Math.max(...quiet);
    const max = Math.max(...loud);
    console.log(
      `[security] /healthz while a ${ITERATIONS + 1}-task run was read ${3 * READS} times (${(readMs / 1000).toFixed(1)} s): ` +
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
