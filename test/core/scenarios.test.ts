// SCENARIOS.md 1-7 and the core operations, against a real server on a real
// PostgreSQL, driven task by task the way Conductor's own tests are. Time is
// moved by the test's clock.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { startHarness, taskList, type Harness } from "../support/harness.js";
import { answer, input, mustPoll, poll } from "../support/worker.js";
import { flowOf } from "../support/flows.js";

const fixtures = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../shared/conformance/conductor");
const fixture = (name: string) => JSON.parse(readFileSync(path.join(fixtures, name), "utf8")) as Record<string, unknown> & { name: string };

let h: Harness;

// Each scenario gets its own copy of the fixture under a unique name, so task
// definition overrides of one scenario do not leak into another.
let counter = 0;
async function register(file: string, overrides: Record<string, unknown> = {}): Promise<string> {
  const def = { ...fixture(file), ...overrides };
  def.name = `${def.name}_${++counter}`;
  await h.client.registerWorkflowDef(def);
  return def.name;
}

async function taskDefs(defs: object[]) {
  await h.client.registerTaskDefs(defs);
}

const integrationDefs = Array.from({ length: 21 }, (_, i) => ({
  name: `integration_task_${i}`,
  retryCount: 1,
  timeoutSeconds: 120,
  responseTimeoutSeconds: 120,
}));

before(async () => {
  h = await startHarness();
  await taskDefs([...integrationDefs, { name: "task_rt", retryCount: 1, retryDelaySeconds: 0, responseTimeoutSeconds: 10 }]);
});
after(() => h.close());

describe("scenario 1: linear flow and data passing", () => {
  it("passes inputs and outputs along, with CPEWF_TASK_ID", async () => {
    const name = await register("simple_workflow_1_integration_test.json");
    const id = await h.client.startWorkflow(name, { param1: "p1 value", param2: "p2 value" });
    let run = await h.client.getWorkflow(id);
    assert.equal(run.status, "RUNNING");
    assert.deepEqual(taskList(run), [["t1", "SCHEDULED"]]);
    const t1 = await mustPoll(h, "integration_task_1");
    assert.equal(await answer(h, t1, "COMPLETED", { op: "task1.done" }), true);
    const t2 = await mustPoll(h, "integration_task_2");
    const t2Input = input(t2);
    assert.equal(t2Input["tp1"], "p1 value");
    assert.equal(t2Input["tp2"], "task1.done");
    assert.equal(t2Input["tp3"], t2.taskId);
    await answer(h, t2, "COMPLETED", { uuid: "x" });
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.equal(run.tasks.length, 2);
    assert.ok("o1" in run.output && "o3" in run.output, JSON.stringify(run.output));
  });
});

describe("scenario 2: retry chain", () => {
  it("retries t2 as new attempts with the same input", async () => {
    await taskDefs([{ name: "integration_task_2", retryCount: 3, retryDelaySeconds: 2, timeoutSeconds: 120, responseTimeoutSeconds: 120 }]);
    try {
      const name = await register("simple_workflow_1_integration_test.json");
      const id = await h.client.startWorkflow(name, { param1: "p1", param2: "p2" });
      await answer(h, await mustPoll(h, "integration_task_1"), "COMPLETED", { op: "done" });
      const inputs: Record<string, unknown>[] = [];
      for (let attempt = 0; attempt < 3; attempt++) {
        if (attempt > 0) {
          assert.equal(await poll(h, "integration_task_2", 50), undefined, "not visible during the retry delay");
          await h.advance(2000);
        }
        const t2 = await mustPoll(h, "integration_task_2");
        const { tp3: _ignored, ...rest } = input(t2);
        inputs.push(rest);
        await answer(h, t2, attempt < 2 ? "FAILED" : "COMPLETED", {}, { reason: "transient" });
      }
      const run = await h.client.getWorkflow(id);
      assert.equal(run.status, "COMPLETED");
      assert.deepEqual(taskList(run), [
        ["t1", "COMPLETED"],
        ["t2", "FAILED"],
        ["t2", "FAILED"],
        ["t2", "COMPLETED"],
      ]);
      assert.equal(run.tasks[2]!.retriedTaskId, run.tasks[1]!.taskId);
      assert.equal(run.tasks[3]!.retriedTaskId, run.tasks[2]!.taskId);
      assert.deepEqual(inputs[0], inputs[1]);
      assert.deepEqual(inputs[1], inputs[2]);
      assert.deepEqual(run.failedReferenceTaskNames, ["t2"]);
    } finally {
      await taskDefs([integrationDefs[2]!]);
    }
  });
});

describe("scenario 3: terminal error", () => {
  it("fails at once on FAILED_WITH_TERMINAL_ERROR, refusing a restart while running", async () => {
    const base = fixture("simple_workflow_1_integration_test.json");
    const name = await register("simple_workflow_1_integration_test.json", {
      outputParameters: { ...(base["outputParameters"] as object), validationErrors: "${t1.output.ErrorMessage}" },
    });
    const id = await h.client.startWorkflow(name, { param1: "p1 value", param2: "p2 value" });
    await assert.rejects(h.client.restartWorkflow(id), /FAILED_PRECONDITION|only an ended run/);
    const t1 = await mustPoll(h, "integration_task_1");
    await answer(
      h,
      t1,
      "FAILED_WITH_TERMINAL_ERROR",
      { ErrorMessage: "There was a terminal error" },
      { reason: "NON TRANSIENT ERROR OCCURRED: An integration point required to complete the task is down" },
    );
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "FAILED");
    assert.equal(run.tasks.length, 1);
    assert.equal(
      run.reasonForIncompletion,
      `Task ${t1.taskId} failed with status: FAILED_WITH_TERMINAL_ERROR and reason: 'NON TRANSIENT ERROR OCCURRED: An integration point required to complete the task is down'`,
    );
    assert.equal(run.output["o1"], "p1 value");
    assert.equal(run.output["validationErrors"], "There was a terminal error");
  });
});

describe("scenario 4: workflow-level retry", () => {
  it("retries a failed run from its failed task", async () => {
    await taskDefs([{ name: "integration_task_1", retryCount: 1, retryDelaySeconds: 0, timeoutSeconds: 120, responseTimeoutSeconds: 120 }]);
    try {
      const name = await register("simple_workflow_1_integration_test.json");
      const id = await h.client.startWorkflow(name, { param1: "p1", param2: "p2" });
      await answer(h, await mustPoll(h, "integration_task_1"), "FAILED");
      await answer(h, await mustPoll(h, "integration_task_1"), "FAILED");
      let run = await h.client.getWorkflow(id);
      assert.equal(run.status, "FAILED");
      assert.equal(run.tasks.length, 2);
      await h.client.retryWorkflow(id);
      run = await h.client.getWorkflow(id);
      assert.equal(run.status, "RUNNING");
      assert.deepEqual(taskList(run).at(-1), ["t1", "SCHEDULED"]);
      await answer(h, await mustPoll(h, "integration_task_1"), "COMPLETED", { op: "ok" });
      await answer(h, await mustPoll(h, "integration_task_2"), "COMPLETED");
      run = await h.client.getWorkflow(id);
      assert.equal(run.status, "COMPLETED");
      assert.equal(run.tasks.length, 4);
    } finally {
      await taskDefs([integrationDefs[1]!]);
    }
  });
});

describe("scenario 5: response timeout and callback", () => {
  it("times out a silent worker, retries, and honours callbackAfterSeconds", async () => {
    const name = await register("simple_workflow_with_resp_time_out_integration_test.json");
    const id = await h.client.startWorkflow(name, { param1: "p1", param2: "p2" });
    const first = await mustPoll(h, "task_rt");
    assert.equal(await poll(h, "task_rt", 0), undefined, "a second poll gets nothing");
    await h.advance(10_000);
    let run = await h.client.getWorkflow(id);
    assert.deepEqual(taskList(run), [
      ["t1", "TIMED_OUT"],
      ["t1", "SCHEDULED"],
    ]);
    // The silent worker's late answer is ignored.
    assert.equal(await answer(h, first, "COMPLETED"), false);
    const second = await mustPoll(h, "task_rt");
    await answer(h, second, "IN_PROGRESS", {}, { callbackAfterSeconds: 2 });
    assert.equal(await poll(h, "task_rt", 0), undefined, "invisible during the callback");
    await h.advance(2000);
    const third = await mustPoll(h, "task_rt");
    assert.equal(third.taskId, second.taskId);
    // The lease of the previous hand-out is stale now.
    await assert.rejects(answer(h, second, "COMPLETED"), /stale lease/);
    await answer(h, third, "COMPLETED");
    await answer(h, await mustPoll(h, "integration_task_2"), "COMPLETED");
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
  });
});

describe("scenario 6: task timeout, policy RETRY", () => {
  it("times out both attempts and then the workflow", async () => {
    await taskDefs([{ name: "integration_task_1", timeoutSeconds: 1, responseTimeoutSeconds: 1, retryCount: 1, retryDelaySeconds: 0, timeoutPolicy: "RETRY" }]);
    try {
      const name = await register("simple_workflow_1_integration_test.json");
      const id = await h.client.startWorkflow(name, { param1: "p1", param2: "p2" });
      await mustPoll(h, "integration_task_1");
      await h.advance(1000);
      await mustPoll(h, "integration_task_1");
      await h.advance(1000);
      const run = await h.client.getWorkflow(id);
      assert.equal(run.status, "TIMED_OUT");
      assert.deepEqual(taskList(run), [
        ["t1", "TIMED_OUT"],
        ["t1", "TIMED_OUT"],
      ]);
    } finally {
      await taskDefs([integrationDefs[1]!]);
    }
  });
});

describe("scenario 7: workflow timeout", () => {
  it("times out the run and cancels its task", async () => {
    const name = await register("simple_workflow_1_integration_test.json", { timeoutPolicy: "TIME_OUT_WF", timeoutSeconds: 5 });
    const id = await h.client.startWorkflow(name, { param1: "p1", param2: "p2" });
    await mustPoll(h, "integration_task_1");
    await h.advance(5000);
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "TIMED_OUT");
    assert.deepEqual(taskList(run), [["t1", "CANCELED"]]);
  });
});

describe("pause and resume", () => {
  it("schedules nothing while paused", async () => {
    const name = await register("simple_workflow_1_integration_test.json");
    const id = await h.client.startWorkflow(name, { param1: "p1" });
    const t1 = await mustPoll(h, "integration_task_1");
    await h.client.pauseWorkflow(id);
    await answer(h, t1, "COMPLETED");
    let run = await h.client.getWorkflow(id);
    assert.equal(run.status, "PAUSED");
    assert.deepEqual(taskList(run), [["t1", "COMPLETED"]]);
    assert.equal(await poll(h, "integration_task_2", 50), undefined);
    await h.client.resumeWorkflow(id);
    run = await h.client.getWorkflow(id);
    assert.equal(run.status, "RUNNING");
    assert.deepEqual(taskList(run), [
      ["t1", "COMPLETED"],
      ["t2", "SCHEDULED"],
    ]);
    await h.client.terminateWorkflow(id, "done here");
  });
});

describe("skip", () => {
  it("jumps over a skipped task", async () => {
    const name = await register("simple_workflow_1_integration_test.json");
    const id = await h.client.startWorkflow(name, { param1: "p1" });
    await h.client.skipTask(id, "t2");
    await answer(h, await mustPoll(h, "integration_task_1"), "COMPLETED");
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    // As Conductor: the placeholder has no sequence number (0), so it is listed first.
    assert.deepEqual(taskList(run), [
      ["t2", "SKIPPED"],
      ["t1", "COMPLETED"],
    ]);
    assert.deepEqual(
      run.tasks.map((t) => t.seq),
      [0, 1],
    );
  });
});

describe("idempotent start", () => {
  it("100 concurrent starts with one key make one run", async () => {
    const name = await register("simple_workflow_1_integration_test.json");
    const results = await Promise.all(
      Array.from({ length: 100 }, () => h.client.workflows.startWorkflow({ name, inputJson: "{}", idempotencyKey: "order-42" })),
    );
    const ids = new Set(results.map((r) => r.workflowId));
    assert.equal(ids.size, 1);
    assert.equal(results.filter((r) => r.created).length, 1);
    const { workflows } = await h.client.searchWorkflows({ name });
    assert.equal(workflows.length, 1);
  });

  it("starts with one key, or one run id, in one batch make one run: the first's, which the others are answered with", { timeout: 60_000 }, async () => {
    const name = await register("simple_workflow_1_integration_test.json");
    // The definition read first: the starts below are made in one turn, into one batch. Written together, the
    // batch inserted the first and skipped the rest; their keys then looked taken by no run once it rolled back,
    // and the batch was decided again for ever (its CPU spinning, the callers never answered).
    await h.server.engine.start({ name, input: {} });
    const byKey = await Promise.all(Array.from({ length: 10 }, () => h.server.engine.start({ name, input: {}, idempotencyKey: "one-batch" })));
    assert.equal(new Set(byKey.map((r) => r.runId)).size, 1);
    assert.deepEqual(
      byKey.map((r) => r.created),
      [true, ...Array.from({ length: 9 }, () => false)],
    );
    const runId = "6b1f3f0e-1111-4a4a-9b9b-00000000002a";
    const byId = await Promise.all(Array.from({ length: 5 }, () => h.server.engine.start({ name, input: {}, runId })));
    assert.deepEqual(
      byId.map((r) => [r.runId, r.created]),
      [[runId, true], ...Array.from({ length: 4 }, () => [runId, false])],
    );
  });
});

describe("start and wait", () => {
  it("answers a run that ends as it starts, with its output", async () => {
    const name = `ends_at_start_${++counter}`;
    await h.client.registerWorkflowDef(
      flowOf(name, [{ name: "set", taskReferenceName: "set", type: "SET_VARIABLE", inputParameters: { copied: "${workflow.input.n}" } }], {
        n: "${workflow.variables.copied}",
      }),
    );
    const run = await h.client.executeWorkflow(name, { n: 21 }, { waitMs: 10_000 });
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.output, { n: 21 });
    assert.deepEqual(taskList(run), [["set", "COMPLETED"]]);
  });

  it("waits for the run an idempotency key names when it was started before", async () => {
    // A task type of its own: another test's run may leave integration tasks in the queue.
    const type = `keyed_task_${++counter}`;
    await taskDefs([{ name: type, retryCount: 0, responseTimeoutSeconds: 60 }]);
    const name = `keyed_${counter}`;
    await h.client.registerWorkflowDef(flowOf(name, [{ name: type, taskReferenceName: "only", type: "SIMPLE" }]));
    const first = await h.client.workflows.startWorkflow({ name, inputJson: "{}", idempotencyKey: name });
    const waiting = h.client.workflows.executeWorkflow({ start: { name, inputJson: "{}", idempotencyKey: name }, waitMs: 30_000n });
    await answer(h, await mustPoll(h, type), "COMPLETED", { done: true });
    const response = await waiting;
    assert.equal(response.created, false);
    assert.equal(response.finished, true);
    assert.equal(response.workflow?.workflowId, first.workflowId);
  });
});

describe("bad input", () => {
  it("refuses an invalid definition with every error and its path, storing nothing", async () => {
    const bad = {
      name: "bad_flow",
      tasks: [
        { name: "a", type: "SIMPLE" },
        { taskReferenceName: "b", type: "FORK_JOIN", forkTasks: [] },
      ],
    };
    await assert.rejects(h.client.registerWorkflowDef(bad), (error: Error & { code?: number }) => {
      assert.equal(error.code, 3, "INVALID_ARGUMENT");
      assert.match(error.message, /\/tasks\/0/);
      assert.match(error.message, /\/tasks\/1/);
      return true;
    });
    await assert.rejects(h.client.getWorkflowDef("bad_flow"), (error: Error & { code?: number }) => error.code === 5);
  });

  it("gives NOT_FOUND for unknown names and ids", async () => {
    await assert.rejects(h.client.startWorkflow("no_such_flow"), (error: Error & { code?: number }) => error.code === 5);
    await assert.rejects(h.client.getWorkflow("00000000-0000-0000-0000-000000000000"), (error: Error & { code?: number }) => error.code === 5);
  });

  it("refuses an oversized payload with the limit in the message", async () => {
    const name = await register("simple_workflow_1_integration_test.json");
    const big = { blob: "x".repeat(2 * 1024 * 1024 + 10) };
    await assert.rejects(h.client.startWorkflow(name, big), /limit is 2097152 bytes/);
  });
});
