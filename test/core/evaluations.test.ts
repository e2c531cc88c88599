// User code runs off the serving thread, outside the run's transaction, and its
// answer comes back as an event. An evaluation asked for and committed whose
// answer never came (its server was killed) is asked for again by another
// replica once its lease has run out: no run waits forever.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { startHarness, type Harness } from "../support/harness.js";
import { freshDatabase } from "../support/database.js";
import { startServerProcess, stopServer, type ServerProc } from "../faults/lib/server.js";
import { HEAVY_ITEMS, heavyParameters } from "../support/heavy-filters.js";
import { flowOf } from "../support/flows.js";

const flow = flowOf("gate_then_script", [
  { name: "gate", taskReferenceName: "gate", type: "HUMAN" },
  { name: "spin", taskReferenceName: "spin", type: "INLINE", inputParameters: { evaluatorType: "javascript", expression: "while (true) {}" } },
]);

/** After a gate, a task whose inputParameters read filters costing about 3 s in the queries pool (test/support/heavy-filters.ts). */
const filtered = flowOf("gate_then_filters", [
  { name: "gate", taskReferenceName: "gate", type: "HUMAN" },
  { name: "noop", taskReferenceName: "read", type: "NOOP", inputParameters: { hits: "${workflow.input.items[?(@.k == 'y')].id}", ...heavyParameters(10) } },
]);

/** After a gate, the run ends with outputParameters that read filters costing about 3 s in the queries pool. */
const filteredOutput = flowOf("gate_then_filtered_output", [{ name: "gate", taskReferenceName: "gate", type: "HUMAN" }], {
  hits: "${workflow.input.items[?(@.k == 'y')].id}",
  ...heavyParameters(10),
});

/** The run once the replica, settling between reads, has ended it (or after `rounds` reads). */
async function settledRun(harness: Harness, id: string, rounds: number) {
  let run = await harness.client.getWorkflow(id);
  for (let i = 0; i < rounds && run.status === "RUNNING"; i++) {
    await new Promise((r) => setTimeout(r, 20));
    await harness.settle();
    run = await harness.client.getWorkflow(id);
  }
  return run;
}

let proc: ServerProc | undefined;
let replica: Harness | undefined;

/**
 * A server process of its own on a fresh database (the earlier one and the replica stopped), running
 * `name` on two items and the heavy ones, with its gate signalled (the answer may never come: the test
 * kills the server meanwhile).
 */
async function gatedOnFreshServer(def: typeof filtered, name: string) {
  await stopServer(proc!);
  await replica?.close();
  replica = undefined;
  const databaseUrl = await freshDatabase();
  proc = await startServerProcess({ databaseUrl });
  const client = new BatonClient({ address: proc.address });
  await client.registerWorkflowDef(def);
  const id = await client.startWorkflow(name, {
    items: [
      { k: "x", id: "a" },
      { k: "y", id: "b" },
    ],
    heavy: HEAVY_ITEMS,
  });
  const signal = client.signalTask(id, { taskReferenceName: "gate" }).catch(() => undefined);
  return { databaseUrl, client, id, signal };
}
after(async () => {
  if (proc) await stopServer(proc);
  await replica?.close();
});

describe("evaluations survive their server", () => {
  it("a script whose server was killed while it ran is evaluated again by another replica once its lease runs out", async () => {
    const databaseUrl = await freshDatabase();
    proc = await startServerProcess({ databaseUrl });
    const client = new BatonClient({ address: proc.address });
    await client.registerWorkflowDef(flow);
    const id = await client.startWorkflow("gate_then_script");
    // Answered only once the script after the gate is decided: not awaited.
    const signal = client.signalTask(id, { taskReferenceName: "gate" }).catch(() => undefined);
    for (;;) {
      const run = await client.getWorkflow(id);
      const spin = run.tasks.find((t) => t.referenceTaskName === "spin");
      if (spin?.status === "IN_PROGRESS") break;
      assert.ok(!spin || spin.status === "SCHEDULED", `the script ended before the kill: ${spin?.status}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    await stopServer(proc);
    await signal;
    client.close();

    // Another replica, whose clock stands past the lease (a manual clock in 2030).
    replica = await startHarness({ databaseUrl });
    const before = (await replica.client.getWorkflow(id)).tasks.find((t) => t.referenceTaskName === "spin")!;
    assert.equal(before.status, "IN_PROGRESS", "the killed server's evaluation never answered");
    await replica.advance(1);
    const run = await settledRun(replica, id, 500);
    const spin = run.tasks.find((t) => t.referenceTaskName === "spin")!;
    assert.equal(spin.status, "FAILED_WITH_TERMINAL_ERROR");
    assert.match(spin.reasonForIncompletion ?? "", /its 1000 ms of CPU time/);
    assert.ok(Number(spin.endTime) >= Date.UTC(2030, 0, 1), "ended by the replica (its clock), not by the killed server");
    assert.equal(run.status, "FAILED");
  });

  it("a task's input read by filters in the queries pool, whose server was killed meanwhile, is asked for again once its lease runs out", async () => {
    const { databaseUrl, client, id, signal } = await gatedOnFreshServer(filtered, "gate_then_filters");
    for (;;) {
      const run = await client.getWorkflow(id);
      const read = run.tasks.find((t) => t.referenceTaskName === "read");
      if (read) {
        // Waiting for its input: scheduled, its input not there yet.
        assert.equal(read.status, "SCHEDULED", "the task waits for its input");
        assert.deepEqual(read.inputData, {}, "the input was resolved before the kill");
        break;
      }
      await new Promise((r) => setTimeout(r, 10));
    }
    await stopServer(proc!);
    await signal;
    client.close();

    replica = await startHarness({ databaseUrl });
    const before = (await replica.client.getWorkflow(id)).tasks.find((t) => t.referenceTaskName === "read")!;
    assert.equal(before.status, "SCHEDULED", "the killed server's answer never came");
    await replica.advance(1);
    const run = await settledRun(replica, id, 1000);
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    const read = run.tasks.find((t) => t.referenceTaskName === "read")!;
    assert.deepEqual((read.inputData as Record<string, unknown>)["hits"], ["b"]);
    assert.ok(Number(read.endTime) >= Date.UTC(2030, 0, 1), "read by the replica (its clock), not by the killed server");
  });

  it("a run's output read by filters in the queries pool, whose server was killed meanwhile, is asked for again and the run completed by another replica", async () => {
    const { databaseUrl, client, id, signal } = await gatedOnFreshServer(filteredOutput, "gate_then_filtered_output");
    for (;;) {
      const run = await client.getWorkflow(id);
      assert.equal(run.status, "RUNNING", "the run ended before the kill");
      // Its one task ended: the run waits for its output, and still reads RUNNING.
      if (run.tasks.every((t) => t.status === "COMPLETED")) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    await stopServer(proc!);
    await signal;
    client.close();

    replica = await startHarness({ databaseUrl });
    const before = await replica.client.getWorkflow(id);
    assert.equal(before.status, "RUNNING", "the killed server's answer never came");
    assert.deepEqual(before.output, {});
    await replica.advance(1);
    const run = await settledRun(replica, id, 1000);
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.deepEqual((run.output as Record<string, unknown>)["hits"], ["b"]);
    assert.ok(Number(run.endTime) >= Date.UTC(2030, 0, 1), "ended by the replica (its clock), not by the killed server");
  });
});
