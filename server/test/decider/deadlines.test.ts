// Every instant the decider sets or checks comes from decider/deadlines.ts:
// a base plus seconds, no deadline when the seconds (or the base) are zero.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WorkflowDef } from "@baton/sdk";
import {
  callbackAt,
  evaluationLeaseAt,
  httpCallLeaseAt,
  pollTimeoutAt,
  retryAt,
  runTimeoutAt,
  startAt,
  taskTimeoutAt,
  waitEndsAt,
  workerLeaseAt,
} from "../../src/decider/deadlines.js";
import { CONTINUE_LEASE_MS, EVALUATION_LEASE_MS } from "../../src/decider/evaluation.js";
import type { RunState, TaskState } from "../../src/decider/model.js";
import { T0 } from "./sim.js";

const task = (fields: Partial<TaskState>): TaskState => ({ startedAt: 0, timeoutSeconds: 0, responseTimeoutSeconds: 0, visibleAt: 0, ...fields }) as TaskState;
const run = (fields: Partial<RunState>): RunState => ({ createdAt: T0, marks: {}, ...fields }) as RunState;
const def = (fields: Partial<WorkflowDef>): WorkflowDef => ({ name: "w", version: 1, tasks: [], ...fields }) as WorkflowDef;

describe("deadlines", () => {
  it("a task times out timeoutSeconds after it started, and not before it started or without a timeout", () => {
    assert.equal(taskTimeoutAt(task({ startedAt: T0, timeoutSeconds: 30 })), T0 + 30_000);
    assert.equal(taskTimeoutAt(task({ startedAt: 0, timeoutSeconds: 30 })), undefined);
    assert.equal(taskTimeoutAt(task({ startedAt: T0, timeoutSeconds: 0 })), undefined);
  });

  it("a worker's lease is its response timeout from now, never past the task's own timeout", () => {
    assert.equal(workerLeaseAt(T0 + 5_000, task({ startedAt: T0, responseTimeoutSeconds: 60, timeoutSeconds: 0 })), T0 + 65_000);
    assert.equal(workerLeaseAt(T0 + 5_000, task({ startedAt: T0, responseTimeoutSeconds: 60, timeoutSeconds: 30 })), T0 + 30_000);
  });

  it("an HTTP call's lease is its response timeout, at least a second, and not capped by the task's timeout", () => {
    assert.equal(httpCallLeaseAt(T0, task({ startedAt: T0, responseTimeoutSeconds: 0, timeoutSeconds: 0 })), T0 + 1_000);
    assert.equal(httpCallLeaseAt(T0, task({ startedAt: T0, responseTimeoutSeconds: 90, timeoutSeconds: 10 })), T0 + 90_000);
  });

  it("a poll timeout counts from when the task could be polled, and only with pollTimeoutSeconds", () => {
    assert.equal(pollTimeoutAt(task({ visibleAt: T0 + 2_000 }), { name: "t", pollTimeoutSeconds: 5 }), T0 + 7_000);
    assert.equal(pollTimeoutAt(task({ visibleAt: T0 }), { name: "t" }), undefined);
    assert.equal(pollTimeoutAt(task({ visibleAt: T0 }), undefined), undefined);
  });

  it("a run times out from its start or its last retry, under TIME_OUT_WF only", () => {
    assert.equal(runTimeoutAt(def({ timeoutSeconds: 10, timeoutPolicy: "TIME_OUT_WF" }), run({})), T0 + 10_000);
    assert.equal(runTimeoutAt(def({ timeoutSeconds: 10, timeoutPolicy: "TIME_OUT_WF" }), run({ marks: { lastRetriedAt: T0 + 60_000 } })), T0 + 70_000);
    assert.equal(runTimeoutAt(def({ timeoutSeconds: 10 }), run({})), undefined);
    assert.equal(runTimeoutAt(def({ timeoutPolicy: "TIME_OUT_WF" }), run({})), undefined);
  });

  it("wake times: callback, start delay, retry delay, evaluation leases", () => {
    assert.equal(callbackAt(T0, 15), T0 + 15_000);
    assert.equal(startAt(T0, { name: "t", taskReferenceName: "t", startDelay: 3 }), T0 + 3_000);
    assert.equal(startAt(T0, { name: "t", taskReferenceName: "t" }), T0);
    assert.equal(retryAt(T0, { name: "t", retryDelaySeconds: 4 }, 0, true), T0 + 4_000);
    assert.equal(retryAt(T0, { name: "t", retryDelaySeconds: 4 }, 0, false), T0);
    assert.equal(retryAt(T0, undefined, 0, true), T0);
    assert.equal(evaluationLeaseAt(T0, { kind: "continue", of: "loop" }), T0 + CONTINUE_LEASE_MS);
    assert.equal(evaluationLeaseAt(T0, { kind: "jq", filter: ".", input: null }), T0 + EVALUATION_LEASE_MS);
  });

  it("a WAIT ends after its duration or at its until time, waits for a signal without either, and refuses unreadable text", () => {
    assert.equal(waitEndsAt(T0, { duration: "1h 30m" }), T0 + 90 * 60_000);
    assert.equal(waitEndsAt(T0, { until: "2030-01-02 00:00" }), Date.UTC(2030, 0, 2));
    assert.equal(waitEndsAt(T0, {}), undefined);
    assert.throws(() => waitEndsAt(T0, { duration: "soon" }), /invalid WAIT duration "soon"/);
  });
});
