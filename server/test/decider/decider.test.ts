// The decider's rules, with no database and time as an input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WorkflowDef } from "@baton/sdk";
import { Refusal } from "../../src/decider/decider.js";
import { retryDelaySeconds } from "../../src/decider/retry.js";
import { Sim, T0 } from "./sim.js";

const linear: WorkflowDef = {
  name: "linear",
  version: 1,
  schemaVersion: 2,
  tasks: [
    { name: "t1", taskReferenceName: "t1", type: "SIMPLE", inputParameters: { p1: "${workflow.input.param1}" } },
    {
      name: "t2",
      taskReferenceName: "t2",
      type: "SIMPLE",
      inputParameters: { tp1: "${workflow.input.param1}", tp2: "${t1.output.op}", tp3: "${CPEWF_TASK_ID}", whole: "${t1.output}" },
    },
  ],
  outputParameters: { o1: "${workflow.input.param1}", o2: "${t2.output.done}" },
};

describe("decider: a linear flow", () => {
  it("passes data between tasks, keeping types, and evaluates outputParameters", () => {
    const sim = new Sim(linear, new Map(), { param1: "p1 value" });
    assert.deepEqual(sim.statuses(), [["t1", "SCHEDULED"]]);
    assert.deepEqual(
      sim.last.effects.map((e) => e.kind),
      ["enqueue"],
    );
    sim.claim("t1");
    sim.answer("t1", "COMPLETED", { op: "task1.done", n: 42 });
    const t2 = sim.latest("t2");
    assert.deepEqual(t2.input, { tp1: "p1 value", tp2: "task1.done", tp3: t2.id, whole: { op: "task1.done", n: 42 } });
    sim.claim("t2");
    sim.answer("t2", "COMPLETED", { done: true });
    assert.equal(sim.run.status, "COMPLETED");
    assert.deepEqual(sim.run.output, { o1: "p1 value", o2: true });
    assert.ok(sim.last.effects.some((e) => e.kind === "runEnded"));
  });

  it("ignores an update to a task that has ended, and refuses a stale lease", () => {
    const sim = new Sim(linear);
    const t1 = sim.claim("t1");
    const token = t1.leaseToken;
    sim.answer("t1", "COMPLETED");
    const again = sim.apply({
      kind: "taskResult",
      taskId: t1.id,
      leaseToken: token,
      status: "FAILED",
      output: {},
      reason: "late",
      callbackAfterSeconds: 0,
      workerId: "w",
    });
    assert.equal(again.applied, false);
    assert.equal(sim.latest("t1").status, "COMPLETED");
    sim.claim("t2");
    assert.throws(
      () =>
        sim.apply({
          kind: "taskResult",
          taskId: sim.latest("t2").id,
          leaseToken: "someone-else",
          status: "COMPLETED",
          output: {},
          reason: "",
          callbackAfterSeconds: 0,
          workerId: "w",
        }),
      (e: unknown) => e instanceof Refusal && e.code === "FAILED_PRECONDITION",
    );
  });
});

describe("decider: retries", () => {
  it("computes FIXED, LINEAR and EXPONENTIAL delays, capped", () => {
    assert.equal(retryDelaySeconds({ name: "x", retryDelaySeconds: 5 }, 3), 5);
    assert.equal(retryDelaySeconds({ name: "x", retryDelaySeconds: 5, retryLogic: "LINEAR_BACKOFF", backoffScaleFactor: 2 }, 2), 30);
    assert.equal(retryDelaySeconds({ name: "x", retryDelaySeconds: 5, retryLogic: "EXPONENTIAL_BACKOFF" }, 3), 40);
    assert.equal(retryDelaySeconds({ name: "x", retryDelaySeconds: 5, retryLogic: "EXPONENTIAL_BACKOFF", maxRetryDelaySeconds: 12 }, 3), 12);
  });

  it("retries a failed task as a new instance after the delay, with the same input", () => {
    const sim = new Sim(linear, new Map([["t2", { name: "t2", retryCount: 3, retryDelaySeconds: 2 }]]), { param1: "a" });
    sim.claim("t1");
    sim.answer("t1", "COMPLETED", { op: "x" });
    const first = sim.claim("t2");
    sim.answer("t2", "FAILED", {}, { reason: "boom" });
    const retry = sim.latest("t2");
    assert.notEqual(retry.id, first.id);
    assert.equal(retry.retryCount, 1);
    assert.equal(retry.retriedTaskId, first.id);
    assert.equal(retry.visibleAt, sim.now + 2000);
    assert.deepEqual({ ...retry.input, tp3: null }, { ...first.input, tp3: null });
    sim.now += 2000;
    sim.claim("t2");
    sim.answer("t2", "COMPLETED");
    assert.equal(sim.run.status, "COMPLETED");
    assert.deepEqual(sim.statuses(), [
      ["t1", "COMPLETED"],
      ["t2", "FAILED"],
      ["t2", "COMPLETED"],
    ]);
  });

  it("never retries FAILED_WITH_TERMINAL_ERROR and words the reason like Conductor", () => {
    const sim = new Sim(linear, new Map([["t1", { name: "t1", retryCount: 3 }]]), { param1: "p1 value" });
    const t1 = sim.claim("t1");
    sim.answer("t1", "FAILED_WITH_TERMINAL_ERROR", { ErrorMessage: "bad" }, { reason: "There was a terminal error" });
    assert.equal(sim.run.status, "FAILED");
    assert.equal(sim.run.reason, `Task ${t1.id} failed with status: FAILED_WITH_TERMINAL_ERROR and reason: 'There was a terminal error'`);
    assert.deepEqual(sim.run.failedRefs, ["t1"]);
    assert.equal(sim.run.output["o1"], "p1 value");
  });

  it("does not retry a task without a task definition", () => {
    const sim = new Sim(linear);
    sim.claim("t1");
    sim.answer("t1", "FAILED", {}, { reason: "x" });
    assert.equal(sim.run.status, "FAILED");
  });
});

describe("decider: timeouts with a moving clock", () => {
  it("times out a task whose worker stops answering, and retries it (responseTimeoutSeconds)", () => {
    const sim = new Sim(linear, new Map([["t1", { name: "t1", retryCount: 1, retryDelaySeconds: 0, responseTimeoutSeconds: 10 }]]));
    sim.claim("t1");
    assert.equal(sim.run.wakeAt, 0, "leases set by claims are found by the sweeper, not the wake time");
    sim.advance(9_999);
    assert.equal(sim.latest("t1").status, "IN_PROGRESS");
    sim.advance(1);
    assert.deepEqual(sim.statuses(), [
      ["t1", "TIMED_OUT"],
      ["t1", "SCHEDULED"],
    ]);
  });

  it("puts a task back with callbackAfterSeconds", () => {
    const sim = new Sim(linear, new Map([["t1", { name: "t1" }]]));
    sim.claim("t1");
    sim.answer("t1", "IN_PROGRESS", { progress: 1 }, { callbackAfterSeconds: 2 });
    const task = sim.latest("t1");
    assert.equal(task.status, "SCHEDULED");
    assert.equal(task.visibleAt, sim.now + 2000);
    assert.ok(sim.last.effects.some((e) => e.kind === "enqueue"));
  });

  it("times out the workflow (TIME_OUT_WF) and cancels what runs", () => {
    const sim = new Sim({ ...linear, timeoutPolicy: "TIME_OUT_WF", timeoutSeconds: 5 });
    sim.claim("t1");
    assert.equal(sim.run.wakeAt, T0 + 5000);
    sim.advance(5000);
    assert.equal(sim.run.status, "TIMED_OUT");
    assert.deepEqual(sim.statuses(), [["t1", "CANCELED"]]);
  });

  it("applies a task's timeoutSeconds with policy RETRY, then times out the workflow", () => {
    const sim = new Sim(
      linear,
      new Map([["t1", { name: "t1", timeoutSeconds: 1, responseTimeoutSeconds: 1, retryCount: 1, retryDelaySeconds: 0, timeoutPolicy: "RETRY" }]]),
    );
    sim.claim("t1");
    sim.advance(1000);
    sim.claim("t1");
    sim.advance(1000);
    assert.deepEqual(sim.statuses(), [
      ["t1", "TIMED_OUT"],
      ["t1", "TIMED_OUT"],
    ]);
    assert.equal(sim.run.status, "TIMED_OUT");
  });
});

describe("decider: operations", () => {
  it("pauses (nothing scheduled) and resumes", () => {
    const sim = new Sim(linear);
    sim.claim("t1");
    sim.apply({ kind: "pause" });
    sim.answer("t1", "COMPLETED");
    assert.deepEqual(sim.statuses(), [["t1", "COMPLETED"]]);
    sim.apply({ kind: "resume" });
    assert.deepEqual(sim.statuses(), [
      ["t1", "COMPLETED"],
      ["t2", "SCHEDULED"],
    ]);
  });

  it("refuses to restart a running run and retries a failed one from the failed task", () => {
    const sim = new Sim(linear, new Map([["t1", { name: "t1", retryCount: 1, retryDelaySeconds: 0 }]]));
    assert.throws(
      () => sim.apply({ kind: "restart", useLatest: false }),
      (e: unknown) => e instanceof Refusal && e.code === "FAILED_PRECONDITION",
    );
    sim.claim("t1");
    sim.answer("t1", "FAILED");
    sim.claim("t1");
    sim.answer("t1", "FAILED");
    assert.equal(sim.run.status, "FAILED");
    sim.apply({ kind: "retry", resumeSubworkflowTasks: false });
    assert.equal(sim.run.status, "RUNNING");
    assert.deepEqual(sim.statuses(), [
      ["t1", "FAILED"],
      ["t1", "FAILED"],
      ["t1", "SCHEDULED"],
    ]);
    sim.claim("t1");
    sim.answer("t1", "COMPLETED");
    sim.claim("t2");
    sim.answer("t2", "COMPLETED");
    assert.equal(sim.run.status, "COMPLETED");
    assert.equal(sim.tasks.length, 4);
  });

  it("skips a task not reached yet: the flow jumps over it", () => {
    const sim = new Sim({ ...linear, outputParameters: {} });
    sim.apply({ kind: "skip", ref: "t2", output: { skipped: true } });
    sim.claim("t1");
    sim.answer("t1", "COMPLETED", { op: "t1 done" });
    assert.equal(sim.run.status, "COMPLETED");
    // Conductor gives the placeholder no sequence number and lists it first; the run's output is then the last task's, t1's.
    assert.deepEqual(sim.statuses(), [
      ["t2", "SKIPPED"],
      ["t1", "COMPLETED"],
    ]);
    assert.deepEqual(
      sim.tasks.map((t) => t.seq),
      [0, 1],
    );
    assert.deepEqual(sim.run.output, { op: "t1 done" });
  });

  it("terminates, cancelling open tasks", () => {
    const sim = new Sim(linear);
    sim.apply({ kind: "terminate", reason: "stop" });
    assert.equal(sim.run.status, "TERMINATED");
    assert.equal(sim.run.reason, "stop");
    assert.deepEqual(sim.statuses(), [["t1", "CANCELED"]]);
    assert.ok(sim.last.effects.some((e) => e.kind === "dequeue"));
  });

  it("makes an optional task's failure COMPLETED_WITH_ERRORS and goes on", () => {
    const def: WorkflowDef = { ...linear, tasks: [{ ...linear.tasks[0]!, optional: true }, linear.tasks[1]!] };
    const sim = new Sim(def);
    sim.claim("t1");
    sim.answer("t1", "FAILED");
    assert.deepEqual(sim.statuses(), [
      ["t1", "COMPLETED_WITH_ERRORS"],
      ["t2", "SCHEDULED"],
    ]);
  });

  it("lets a permissive task's failure run the rest, then fails the workflow", () => {
    const def: WorkflowDef = { ...linear, tasks: [{ ...linear.tasks[0]!, permissive: true }, linear.tasks[1]!] };
    const sim = new Sim(def);
    const t1 = sim.claim("t1");
    sim.answer("t1", "FAILED", {}, { reason: "nope" });
    assert.deepEqual(sim.statuses(), [
      ["t1", "FAILED"],
      ["t2", "SCHEDULED"],
    ]);
    sim.claim("t2");
    sim.answer("t2", "COMPLETED");
    assert.equal(sim.run.status, "FAILED");
    assert.equal(sim.run.reason, `Task ${t1.id} failed with status: FAILED and reason: 'nope'`);
  });
});
