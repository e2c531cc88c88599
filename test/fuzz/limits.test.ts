// Size and nesting limits (server/src/limits.ts) and the sub-workflow depth cap,
// against a real server: refused with a typed error that names the limit,
// nothing stored, and the server unharmed.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { grpc, TaskStatus } from "@baton/protocol";
import pg from "pg";
import { startHarness, type Harness } from "../support/harness.js";
import { mustPoll } from "../support/worker.js";
import { flowOf } from "../support/flows.js";

const MiB = 1024 * 1024;
let h: Harness;
let db: pg.Client;

before(async () => {
  h = await startHarness({ manualClock: false });
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
  await h.client.registerTaskDefs([{ name: "lim_task", retryCount: 0, responseTimeoutSeconds: 60 }]);
  await h.client.registerWorkflowDef(flowOf("lim_flow", [{ name: "lim_task", taskReferenceName: "t", type: "SIMPLE" }]));
});

after(async () => {
  await db.end();
  await h.close();
});

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "OK";
  } catch (error) {
    return grpc.status[(error as grpc.ServiceError).code] ?? String(error);
  }
}

async function message(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return "";
  } catch (error) {
    return (error as grpc.ServiceError).details ?? "";
  }
}

const runCount = async () => Number((await db.query("SELECT count(*) FROM baton.runs")).rows[0].count);

describe("payload and definition size limits", () => {
  it("an input over 2 MiB is refused with INVALID_ARGUMENT naming the limit, and no run is made", async () => {
    const before = await runCount();
    const input = { blob: "x".repeat(2 * MiB) };
    const start = h.client.workflows.startWorkflow({ name: "lim_flow", inputJson: JSON.stringify(input) });
    assert.equal(await code(start), "INVALID_ARGUMENT");
    assert.match(await message(h.client.workflows.startWorkflow({ name: "lim_flow", inputJson: JSON.stringify(input) })), /limit/);
    assert.equal(await runCount(), before);
    // Just under the limit is fine.
    const ok = await h.client.startWorkflow("lim_flow", { blob: "x".repeat(MiB) });
    await h.client.terminateWorkflow(ok); // so later tests poll their own tasks
  });

  it("a task output over 2 MiB is refused and the task stays running", async () => {
    const runId = await h.client.startWorkflow("lim_flow", {});
    const task = await mustPoll(h, "lim_task");
    const update = h.client.tasks.updateTask({
      result: {
        taskId: task.taskId,
        leaseToken: task.leaseToken,
        status: TaskStatus.COMPLETED,
        outputJson: JSON.stringify({ blob: "y".repeat(2 * MiB) }),
        workerId: "w",
      },
    });
    assert.equal(await code(update), "INVALID_ARGUMENT");
    const run = await h.client.getWorkflow(runId);
    assert.equal(run.tasks[0]!.status, "IN_PROGRESS");
    await h.client.terminateWorkflow(runId);
  });

  it("a task log line over 2 MiB is refused", async () => {
    const runId = await h.client.startWorkflow("lim_flow", {});
    const task = await mustPoll(h, "lim_task");
    assert.equal(await code(h.client.tasks.addTaskLog({ taskId: task.taskId, message: "z".repeat(2 * MiB + 1) })), "INVALID_ARGUMENT");
    assert.equal((await h.client.tasks.getTaskLogs({ taskId: task.taskId })).logs.length, 0);
    await h.client.terminateWorkflow(runId);
  });

  it("a definition over 4 MiB is refused with INVALID_ARGUMENT (RESOURCE_EXHAUSTED past the transport's limit) and not stored", async () => {
    const big = (bytes: number) => ({
      ...flowOf(`lim_big_${bytes}`, [{ name: "lim_task", taskReferenceName: "t", type: "SIMPLE" }]),
      description: "d".repeat(bytes),
    });
    assert.equal(await code(h.client.registerWorkflowDef(big(4 * MiB + 10))), "INVALID_ARGUMENT");
    assert.match(await message(h.client.registerWorkflowDef(big(4 * MiB + 10))), /limit/);
    assert.equal(await code(h.client.registerWorkflowDef(big(6 * MiB))), "RESOURCE_EXHAUSTED");
    const { rows } = await db.query("SELECT name FROM baton.workflow_defs WHERE name LIKE 'lim_big_%'");
    assert.deepEqual(rows, []);
    assert.equal(await code(h.client.registerWorkflowDef(big(MiB))), "OK");
  });

  it("deeply nested input JSON is refused with INVALID_ARGUMENT, not INTERNAL", {}, async () => {
    for (const depth of [1000, 10_000, 100_000]) {
      const inputJson = '{"a":'.repeat(depth) + "1" + "}".repeat(depth);
      const got = await code(h.client.workflows.startWorkflow({ name: "lim_flow", inputJson }));
      assert.ok(["OK", "INVALID_ARGUMENT"].includes(got), `depth ${depth}: ${got}`);
    }
  });

  it("the server still answers after all that", async () => {
    assert.equal(await code(h.client.queues()), "OK");
  });
});

describe("sub-workflow nesting", () => {
  it("a flow that starts itself through SUB_WORKFLOW ends with a clear depth-limit error", async () => {
    await h.client.registerWorkflowDef(
      flowOf("self_starter", [{ name: "again", taskReferenceName: "again", type: "SUB_WORKFLOW", subWorkflowParam: { name: "self_starter", version: 1 } }]),
    );
    const runId = await h.client.startWorkflow("self_starter", {});
    const run = await h.client.waitWorkflow(runId, 120_000);
    assert.equal(run.status, "FAILED", run.reasonForIncompletion);
    // The deepest run fails with the depth error, and every level above it fails in turn.
    const { rows } = await db.query("SELECT count(*)::int AS n FROM baton.runs WHERE name = 'self_starter'");
    assert.equal(rows[0].n, 33, "the top run and 32 nested levels");
    const deepest = await db.query(
      "SELECT (r.extra->>'depth')::int AS depth, t.status, t.reason FROM baton.runs r JOIN baton.tasks t ON t.run_id = r.id WHERE r.name = 'self_starter' AND t.reason LIKE 'sub-workflow nesting deeper than 32%'",
    );
    assert.equal(deepest.rows.length, 1, "one task, at the deepest level, refuses to go deeper");
    assert.equal(deepest.rows[0].depth, 32);
    assert.equal(deepest.rows[0].status, "FAILED_WITH_TERMINAL_ERROR");
    assert.match(run.reasonForIncompletion ?? "", /nesting deeper than 32 levels/, "the top run says why");
    const open = await db.query("SELECT count(*)::int AS n FROM baton.runs WHERE name = 'self_starter' AND status NOT IN ('FAILED')");
    assert.equal(open.rows[0].n, 0, "every level ended FAILED");
  });
});
