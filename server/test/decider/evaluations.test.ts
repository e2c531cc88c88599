// User code is never run inside a decision: the decider asks for it as an
// effect, the task waits under a lease, and the answer is an event of its own.
// A lost answer is asked for again once the lease runs out; a long loop goes
// on in later events once a decision's budget is spent.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WorkflowDef } from "@baton/sdk";
import { EVALUATION_LEASE_MS, ITERATION_BUDGET, TASK_BUDGET, type EvaluationRequest } from "../../src/decider/evaluation.js";
import type { JsonObject } from "../../src/decider/model.js";
import { flowDef, ManualRun, T0 } from "./sim.js";

/** A run driven event by event, with evaluations answered only when the test says so. */
const manual = (d: WorkflowDef, input: Record<string, unknown> = {}) => new ManualRun(d, new Map(), input as JsonObject);

describe("evaluations", () => {
  const inline = flowDef([{ name: "s", taskReferenceName: "s", type: "INLINE", inputParameters: { expression: "$.a + 1", a: 1 } }]);

  it("a script is asked for, not run: the task waits IN_PROGRESS under a lease, and the answer completes it", () => {
    const m = manual(inline);
    const [asked] = m.asked();
    assert.deepEqual(asked?.request, { kind: "script", source: "$.a + 1", bindings: { expression: "$.a + 1", a: 1 } });
    const task = m.tasks[0]!;
    assert.equal(task.status, "IN_PROGRESS");
    assert.equal(task.leaseExpiresAt, T0 + EVALUATION_LEASE_MS);
    assert.equal(m.run.wakeAt, T0 + EVALUATION_LEASE_MS, "the lease is the run's due time: any replica's timer finds it");
    m.answerEvaluation(asked!, 2);
    assert.equal(m.run.status, "COMPLETED");
    assert.deepEqual(m.tasks[0]!.output, { result: 2 });
  });

  it("an answer that never came is asked for again once the lease runs out; the lost one is then ignored", () => {
    const m = manual(inline);
    const [lost] = m.asked();
    m.now += EVALUATION_LEASE_MS - 1;
    m.apply({ kind: "tick" });
    assert.equal(m.asked().length, 0, "not before the lease runs out");
    m.now += 1;
    m.apply({ kind: "tick" });
    const [again] = m.asked();
    assert.ok(again);
    assert.notEqual(again.leaseToken, lost!.leaseToken);
    assert.equal(m.answerEvaluation(lost!, 99).applied, false, "a late answer to the old lease changes nothing");
    assert.equal(m.run.status, "RUNNING");
    m.answerEvaluation(again, 2);
    assert.equal(m.run.status, "COMPLETED");
    assert.deepEqual(m.tasks[0]!.output, { result: 2 });
  });

  it("a failure is the task's failure, with the evaluator's message", () => {
    const m = manual(inline);
    const [asked] = m.asked();
    m.apply({
      kind: "evaluated",
      taskId: asked!.task!.id,
      leaseToken: asked!.leaseToken,
      outcome: { ok: false, message: "the script used more than its 1000 ms of CPU time and was stopped" },
    });
    // As Conductor: a failed INLINE is a terminal failure, its message in output.error.
    assert.equal(m.tasks[0]!.status, "FAILED_WITH_TERMINAL_ERROR");
    assert.equal(m.tasks[0]!.reason, "the script used more than its 1000 ms of CPU time and was stopped");
    assert.deepEqual(m.tasks[0]!.output, { error: "the script used more than its 1000 ms of CPU time and was stopped" });
  });

  it("a loop condition answered while the run is paused is asked again on resume", () => {
    const m = manual(
      flowDef([
        { name: "loop", taskReferenceName: "loop", type: "DO_WHILE", loopCondition: "false", loopOver: [{ name: "n", taskReferenceName: "n", type: "NOOP" }] },
      ]),
    );
    const [asked] = m.asked();
    assert.equal(asked?.request.kind, "script");
    m.apply({ kind: "pause" });
    assert.equal(m.answerEvaluation(asked!, false).applied, false);
    m.apply({ kind: "resume" });
    const [again] = m.asked();
    assert.ok(again, "asked again on resume");
    m.answerEvaluation(again, false);
    assert.equal(m.run.status, "COMPLETED");
  });
});

describe("a run's ending that reads a filter", () => {
  const items = {
    items: [
      { k: "x", id: "a" },
      { k: "y", id: "b" },
    ],
  };

  it("outputParameters with a filter: the run reads RUNNING, its tasks ended, until the pool's answer completes it", () => {
    const m = manual(
      {
        ...flowDef([{ name: "n", taskReferenceName: "n", type: "NOOP" }]),
        outputParameters: { hits: "${workflow.input.items[?(@.k == 'y')].id}", status: "${workflow.status}", plain: "${workflow.input.items[0].id}" },
      },
      items,
    );
    const [asked] = m.asked();
    assert.equal(asked?.task, undefined, "the run's ending asks, not a task");
    assert.equal(asked?.request.kind, "resolve");
    assert.equal(m.run.status, "RUNNING");
    assert.equal(m.run.endedAt, 0);
    assert.equal(m.tasks[0]!.status, "COMPLETED");
    assert.equal(m.run.wakeAt, T0 + EVALUATION_LEASE_MS, "the lease is the run's due time");
    // What the pool sends back; the run reads it as the answer.
    assert.equal(m.answerEvaluation(asked!, { hits: ["b"], status: "RUNNING", plain: "a" }).applied, true);
    assert.equal(m.run.status, "COMPLETED");
    assert.deepEqual(m.run.output, { hits: ["b"], status: "RUNNING", plain: "a" });
    assert.equal(m.run.marks.ending, undefined);
    assert.ok(m.last.effects.some((e) => e.kind === "runEnded"));
    assert.equal(m.run.wakeAt, 0);
  });

  it("the context sent is the run as it ends: a failing run's output reads its status FAILED", () => {
    const m = manual(
      {
        ...flowDef([{ name: "w", taskReferenceName: "w", type: "SIMPLE" }]),
        outputParameters: { hits: "${workflow.input.items[?(@.k == 'y')].id}", status: "${workflow.status}" },
      },
      items,
    );
    const task = m.tasks[0]!;
    m.apply({ kind: "terminate", reason: "stop" });
    const [asked] = m.asked();
    const request = asked!.request as Extract<EvaluationRequest, { kind: "resolve" }>;
    assert.equal((request.context["workflow"] as JsonObject)["status"], "TERMINATED");
    assert.equal(m.run.status, "RUNNING", "RUNNING until the output is known");
    assert.equal(task.status, "CANCELED");
    m.answerEvaluation(asked!, { hits: ["b"], status: "TERMINATED" });
    assert.equal(m.run.status, "TERMINATED");
    assert.equal(m.run.reason, "stop");
  });

  it("a lost answer is asked again once the lease runs out; the late one changes nothing; flow events are refused meanwhile", () => {
    const m = manual({ ...flowDef([{ name: "n", taskReferenceName: "n", type: "NOOP" }]), outputParameters: { x: "${workflow.input.items[?(@.k)]}" } }, items);
    const [lost] = m.asked();
    m.now += EVALUATION_LEASE_MS - 1;
    m.apply({ kind: "tick" });
    assert.equal(m.asked().length, 0);
    assert.throws(() => m.apply({ kind: "skip", ref: "n", output: {} }), /is ending/);
    m.now += 1;
    m.apply({ kind: "tick" });
    const [again] = m.asked();
    assert.ok(again && again.leaseToken !== lost!.leaseToken);
    assert.equal(m.answerEvaluation(lost!, { x: 1 }).applied, false);
    assert.equal(m.run.status, "RUNNING");
    m.answerEvaluation(again, { x: 2 });
    assert.equal(m.run.status, "COMPLETED");
    assert.deepEqual(m.run.output, { x: 2 });
  });

  it("an output the pool could not resolve fails the run, saying why", () => {
    const m = manual({ ...flowDef([{ name: "n", taskReferenceName: "n", type: "NOOP" }]), outputParameters: { x: "${workflow.input.items[?(@.k)]}" } }, items);
    const [asked] = m.asked();
    m.apply({ kind: "evaluated", taskId: "", leaseToken: asked!.leaseToken, outcome: { ok: false, message: "it took too long" } });
    assert.equal(m.run.status, "FAILED");
    assert.match(m.run.reason, /resolving the workflow's outputParameters failed: it took too long/);
  });

  it("a failure workflow named by a filter (the one name it matched) starts once the pool answers; the run reads RUNNING meanwhile", () => {
    const m = manual(
      {
        ...flowDef([{ name: "w", taskReferenceName: "w", type: "SIMPLE" }]),
        failureWorkflow: "${workflow.input.handlers[?(@.on == 'fail')].name}",
      } as WorkflowDef,
      {
        handlers: [
          { on: "ok", name: "nope" },
          { on: "fail", name: "cleanup" },
        ],
      },
    );
    m.apply({ kind: "terminate", reason: "stop" });
    const [asked] = m.asked();
    assert.equal(asked?.request.kind, "resolve");
    assert.equal(m.run.status, "RUNNING");
    assert.equal(
      m.last.effects.some((e) => e.kind === "startRun"),
      false,
    );
    m.answerEvaluation(asked!, ["cleanup"]);
    assert.equal(m.run.status, "TERMINATED");
    const start = m.last.effects.find((e) => e.kind === "startRun");
    assert.equal(start?.kind === "startRun" && start.request.name, "cleanup");
    assert.equal(m.run.output["conductor.failure_workflow"], start?.kind === "startRun" ? start.request.runId : "");
  });

  it("without a filter the ending is decided at once, as before", () => {
    const m = manual(
      { ...flowDef([{ name: "n", taskReferenceName: "n", type: "NOOP" }]), outputParameters: { first: "${workflow.input.items[0].id}" } },
      items,
    );
    assert.equal(m.asked().length, 0);
    assert.equal(m.run.status, "COMPLETED");
    assert.deepEqual(m.run.output, { first: "a" });
  });
});

describe("a decision's budget", () => {
  /** A run of one DO_WHILE ("loop") around `loopOver`, an iteration for each of its `n` input items. */
  const itemsLoop = (n: number, loopOver: unknown[]) =>
    manual(flowDef([{ name: "loop", taskReferenceName: "loop", type: "DO_WHILE", inputParameters: { items: "${workflow.input.items}" }, loopOver }]), {
      items: Array.from({ length: n }, (_, i) => i),
    });

  it(`5,000 NOOP iterations: at most ${ITERATION_BUDGET} per decision, the rest in later events`, () => {
    const n = 5_000;
    const m = itemsLoop(n, [{ name: "n", taskReferenceName: "n", type: "NOOP" }]);
    for (let asked = m.asked(); asked.length > 0; asked = m.asked()) {
      assert.deepEqual(
        asked.map((e) => e.request),
        [{ kind: "continue", of: "loop" }],
      );
      const before = m.tasks.length;
      m.answerEvaluation(asked[0]!, true);
      assert.ok(m.tasks.length - before <= ITERATION_BUDGET, `one decision started ${m.tasks.length - before} iterations`);
    }
    assert.equal(m.run.status, "COMPLETED");
    assert.equal(m.tasks.length, n + 1);
    assert.equal(m.decisions, 1 + Math.ceil(n / ITERATION_BUDGET) - 1);
    const loop = m.tasks[0]!;
    assert.equal(loop.output["iteration"], n);
    assert.deepEqual(loop.output[String(n)], { n: {} });
  });

  it(`a loop whose body forks 50 ways: a decision creates about ${TASK_BUDGET} tasks, not ${ITERATION_BUDGET} iterations' worth`, () => {
    const n = 60;
    const branches = 50;
    const m = itemsLoop(n, [
      {
        name: "fork",
        taskReferenceName: "fork",
        type: "FORK_JOIN",
        forkTasks: Array.from({ length: branches }, (_, b) => [{ name: `b${b}`, taskReferenceName: `b${b}`, type: "NOOP" }]),
      },
      { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: Array.from({ length: branches }, (_, b) => `b${b}`) },
    ]);
    const perIteration = branches + 2;
    // The first decision (the start) too: one iteration more than the budget at most, never split.
    assert.ok(m.tasks.length - 1 <= TASK_BUDGET + perIteration, `the start created ${m.tasks.length - 1} tasks`);
    for (let asked = m.asked(); asked.length > 0; asked = m.asked()) {
      const before = m.tasks.length;
      m.answerEvaluation(asked[0]!, true);
      assert.ok(m.tasks.length - before <= TASK_BUDGET + perIteration, `one decision created ${m.tasks.length - before} tasks`);
    }
    assert.equal(m.run.status, "COMPLETED");
    assert.equal(m.tasks.length, 1 + n * perIteration);
    assert.ok(m.decisions >= Math.ceil((n * perIteration) / (TASK_BUDGET + perIteration)), `${m.decisions} decisions`);
    assert.equal(m.tasks[0]!.output["iteration"], n);
  });

  it("a loop terminated while it waited to go on, then retried, goes on from where it stopped", () => {
    const n = 250;
    const m = itemsLoop(n, [{ name: "n", taskReferenceName: "n", type: "NOOP" }]);
    const [pending] = m.asked();
    assert.deepEqual(pending?.request, { kind: "continue", of: "loop" });
    m.apply({ kind: "terminate", reason: "enough" });
    assert.equal(m.run.status, "TERMINATED");
    assert.equal(m.answerEvaluation(pending!, true).applied, false, "the answer to the old wait changes nothing");
    m.apply({ kind: "retry", resumeSubworkflowTasks: false });
    assert.equal(m.run.status, "RUNNING");
    const [again] = m.asked();
    assert.deepEqual(again?.request, { kind: "continue", of: "loop" }, "the retried loop asks to go on");
    for (let asked = [again!]; asked.length > 0; asked = m.asked()) m.answerEvaluation(asked[0]!, true);
    assert.equal(m.run.status, "COMPLETED");
    assert.equal(m.tasks[0]!.output["iteration"], n);
    assert.equal(m.tasks.filter((t) => t.ref.startsWith("n__")).length, n, "each iteration made once");
  });
});
