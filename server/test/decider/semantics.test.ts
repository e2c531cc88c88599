// The decider's Conductor semantics added for the conformance suite, with no
// database: joins and loops by iteration, revival of ended runs, TERMINATE's
// output, failure workflow names, delayed system tasks, START_WORKFLOW, rerun.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { flowDef, simple, Sim } from "./sim.js";

describe("loops", () => {
  const loopWithFork = flowDef([
    {
      name: "loop",
      taskReferenceName: "loop",
      type: "DO_WHILE",
      inputParameters: { n: "${workflow.input.n}" },
      loopCondition: "$.loop['iteration'] < $.n",
      loopOver: [
        { name: "fork", taskReferenceName: "fork", type: "FORK_JOIN", forkTasks: [[simple("a")], [simple("b")]] },
        { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: ["a", "b"] },
      ],
    },
  ]);

  it("a fork inside a loop joins per iteration, keyed by instance names", () => {
    const sim = new Sim(loopWithFork, new Map(), { n: 2 });
    sim.finish("a__1", "COMPLETED", { x: 1 });
    sim.finish("b__1", "COMPLETED", { x: 2 });
    assert.equal(sim.latest("join__1").status, "COMPLETED");
    assert.deepEqual(sim.latest("join__1").output, { a__1: { x: 1 }, b__1: { x: 2 } });
    assert.equal(sim.latest("loop").iteration, 2, "the loop task's iteration counts its iterations");
    sim.finish("a__2");
    sim.finish("b__2");
    assert.equal(sim.run.status, "COMPLETED");
    assert.equal(sim.latest("loop").output["iteration"], 2);
  });

  it("the loop condition sees its inputs resolved afresh (a variable set in the body)", () => {
    const sim = new Sim(
      flowDef(
        [
          {
            name: "loop",
            taskReferenceName: "loop",
            type: "DO_WHILE",
            inputParameters: { v: "${workflow.variables.v}" },
            loopCondition: "$.v > 0",
            loopOver: [{ name: "set", taskReferenceName: "set", type: "SET_VARIABLE", inputParameters: { v: 0 } }],
          },
        ],
        { variables: { v: 1 } },
      ),
    );
    assert.equal(sim.run.status, "COMPLETED");
    assert.equal(sim.latest("loop").output["iteration"], 1);
  });

  it("500 iterations of a system task body are decided in one event, iteratively", () => {
    const sim = new Sim(
      flowDef([
        {
          name: "loop",
          taskReferenceName: "loop",
          type: "DO_WHILE",
          loopCondition: "$.loop['iteration'] < 500",
          loopOver: [{ name: "noop", taskReferenceName: "noop", type: "NOOP" }],
        },
      ]),
    );
    assert.equal(sim.run.status, "COMPLETED");
    assert.equal(sim.tasks.length, 501);
  });
});

describe("dynamic fork", () => {
  const dyn = flowDef([
    { name: "fork", taskReferenceName: "fork", type: "FORK_JOIN_DYNAMIC", inputParameters: { forkTaskName: "w", forkTaskInputs: "${workflow.input.items}" } },
    { name: "join", taskReferenceName: "join", type: "JOIN" },
  ]);

  it("the join lists joinOn in its input and completes when the last branch ends", () => {
    const sim = new Sim(dyn, new Map(), { items: [{ i: 0 }, { i: 1 }, { i: 2 }] });
    assert.deepEqual(sim.latest("join").input["joinOn"], ["w_0", "w_1", "w_2"]);
    sim.finish("w_2");
    sim.finish("w_0");
    assert.equal(sim.latest("join").status, "IN_PROGRESS");
    sim.finish("w_1");
    assert.equal(sim.latest("join").status, "COMPLETED");
    assert.equal(sim.run.status, "COMPLETED");
  });

  it("1,000 branches: each completion is cheap (no per-branch rescans of every task's views)", () => {
    const sim = new Sim(dyn, new Map(), { items: Array.from({ length: 1000 }, (_, i) => ({ i })) });
    for (let i = 0; i < 1000; i++) sim.finish(`w_${i}`, "COMPLETED", { i });
    assert.equal(sim.run.status, "COMPLETED");
    assert.equal(Object.keys(sim.latest("join").output).length, 1000);
  });
});

describe("TERMINATE", () => {
  const terminate = (workflowOutput: unknown) =>
    new Sim(
      flowDef([{ name: "t", taskReferenceName: "t", type: "TERMINATE", inputParameters: { terminationStatus: "COMPLETED", workflowOutput } }, simple("after")]),
    );

  it("an object workflowOutput is the run's output; another value is wrapped as {output}", () => {
    assert.deepEqual(terminate({ a: 1 }).run.output, { a: 1 });
    assert.deepEqual(terminate("text").run.output, { output: "text" });
    const sim = terminate({ a: 1 });
    assert.equal(sim.run.status, "COMPLETED");
    assert.deepEqual(sim.statuses(), [["t", "COMPLETED"]]);
  });
});

describe("failure workflow", () => {
  const failing = (failureWorkflow: string, input: Record<string, string> = {}) => {
    const sim = new Sim(flowDef([simple("a")], { failureWorkflow }), new Map(), input);
    sim.finish("a", "FAILED_WITH_TERMINAL_ERROR", {}, "bad");
    return sim;
  };
  const started = (sim: Sim) => sim.last.effects.flatMap((e) => (e.kind === "startRun" ? [e.request.name] : []));

  it("is named as written, or from the input for $workflow.input.<name>", () => {
    assert.deepEqual(started(failing("cleanup")), ["cleanup"]);
    assert.deepEqual(started(failing("$workflow.input.fw", { fw: "from_input" })), ["from_input"]);
    const none = failing("$workflow.input.fw");
    assert.deepEqual(started(none), []);
    assert.equal(none.run.output["conductor.failure_workflow"], undefined);
  });
});

describe("sub-workflow revival", () => {
  const parent = flowDef([{ name: "sub", taskReferenceName: "sub", type: "SUB_WORKFLOW", subWorkflowParam: { name: "child" } }], {
    timeoutSeconds: 5,
    timeoutPolicy: "TIME_OUT_WF",
  });

  it("a timed-out parent is revived by its child's retry, with its timeout counted from then", () => {
    const sim = new Sim(parent);
    const sub = sim.latest("sub");
    assert.equal(sub.status, "IN_PROGRESS");
    sim.now += 5000;
    sim.apply({ kind: "tick" });
    assert.equal(sim.run.status, "TIMED_OUT");
    assert.ok(sim.last.effects.some((e) => e.kind === "terminateRun" && e.runId === sub.subWorkflowId));
    sim.now += 60_000;
    sim.apply({ kind: "childRevived", taskId: sub.id, childId: sub.subWorkflowId });
    assert.equal(sim.run.status, "RUNNING");
    assert.equal(sim.latest("sub").status, "IN_PROGRESS");
    assert.equal(sim.run.wakeAt, sim.now + 5000);
    sim.apply({ kind: "childEnded", taskId: sub.id, childId: sub.subWorkflowId, status: "COMPLETED", output: { answer: 42 }, reason: "" });
    assert.equal(sim.run.status, "COMPLETED");
    assert.equal(sim.run.output["answer"], 42);
  });

  it("a run that runs again tells its parent (runRevived)", () => {
    const sim = new Sim(flowDef([simple("a")]), new Map(), {}, { parentRunId: "p", parentTaskId: "pt" });
    sim.finish("a", "FAILED_WITH_TERMINAL_ERROR");
    sim.apply({ kind: "retry", resumeSubworkflowTasks: false });
    assert.ok(sim.last.effects.some((e) => e.kind === "runRevived"));
  });

  it("retry with resumeSubworkflowTasks resumes the same child", () => {
    const sim = new Sim(flowDef([{ name: "sub", taskReferenceName: "sub", type: "SUB_WORKFLOW", subWorkflowParam: { name: "child" } }]));
    const sub = sim.latest("sub");
    sim.apply({ kind: "childEnded", taskId: sub.id, childId: sub.subWorkflowId, status: "FAILED", output: {}, reason: "child failed" });
    assert.equal(sim.run.status, "FAILED");
    sim.apply({ kind: "retry", resumeSubworkflowTasks: true });
    assert.equal(sim.tasks.length, 1);
    assert.equal(sim.latest("sub").status, "IN_PROGRESS");
    assert.ok(sim.last.effects.some((e) => e.kind === "retryRun" && e.runId === sub.subWorkflowId));
  });

  it("an inline definition's expressions are left for the child", () => {
    const sim = new Sim(
      flowDef([
        {
          name: "sub",
          taskReferenceName: "sub",
          type: "SUB_WORKFLOW",
          subWorkflowParam: {
            name: "inline",
            workflowDefinition: { name: "inline", version: 1, schemaVersion: 2, tasks: [{ ...simple("x"), inputParameters: { p: "${workflow.input.v}" } }] },
          },
        },
      ]),
    );
    const start = sim.last.effects.find((e) => e.kind === "startRun");
    assert.ok(start && start.kind === "startRun");
    assert.equal(JSON.stringify(start.request.definition).includes("${workflow.input.v}"), true);
  });
});

describe("system tasks: delays and timeouts", () => {
  it("a retried WAIT waits out its retry delay, then starts; its def's timeoutSeconds applies", () => {
    const taskDefs = new Map([["w", { name: "w", timeoutSeconds: 2, timeoutPolicy: "RETRY" as const, retryCount: 1, retryDelaySeconds: 10 }]]);
    const sim = new Sim(flowDef([{ name: "w", taskReferenceName: "w", type: "WAIT" }]), taskDefs);
    assert.equal(sim.latest("w").status, "IN_PROGRESS");
    sim.now += 2000;
    sim.apply({ kind: "tick" });
    assert.deepEqual(sim.statuses(), [
      ["w", "TIMED_OUT"],
      ["w", "SCHEDULED"],
    ]);
    assert.equal(sim.run.wakeAt, sim.now + 10_000);
    sim.now += 10_000;
    sim.apply({ kind: "tick" });
    assert.equal(sim.latest("w").status, "IN_PROGRESS");
  });
});

describe("START_WORKFLOW", () => {
  const starter = (request: unknown) =>
    new Sim(flowDef([{ name: "s", taskReferenceName: "s", type: "START_WORKFLOW", inputParameters: { startWorkflow: request } }]));

  it("waits for the start to be reported, then completes or fails", () => {
    const ok = starter({ name: "other", input: { a: 1 } });
    const s = ok.latest("s");
    assert.equal(s.status, "IN_PROGRESS");
    const childId = s.output["workflowId"] as string;
    ok.apply({ kind: "runStarted", taskId: s.id, childId, error: "" });
    assert.equal(ok.run.status, "COMPLETED");
    const missing = starter({ name: "nope" });
    const m = missing.latest("s");
    missing.apply({ kind: "runStarted", taskId: m.id, childId: m.output["workflowId"] as string, error: "no workflow definition nope" });
    assert.equal(missing.latest("s").status, "FAILED");
    assert.equal(missing.run.status, "FAILED");
  });

  it("fails a malformed request at once", () => {
    for (const request of [{}, { name: "x", version: "1" }, { name: "x", input: [1] }, "text"]) {
      const sim = starter(request);
      assert.equal(sim.latest("s").status, "FAILED", JSON.stringify(request));
      assert.ok(!sim.last.effects.some((e) => e.kind === "startRun"));
    }
  });
});

describe("rerun inside a fork", () => {
  it("reopens the join and resumes the other branch's lost tasks", () => {
    const sim = new Sim(
      flowDef([
        { name: "fork", taskReferenceName: "fork", type: "FORK_JOIN", forkTasks: [[simple("a"), simple("c")], [simple("b")]] },
        { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: ["c", "b"] },
        simple("d"),
      ]),
    );
    sim.finish("a");
    sim.finish("b");
    sim.finish("c");
    sim.finish("d");
    assert.equal(sim.run.status, "COMPLETED");
    sim.apply({ kind: "rerun", taskId: sim.latest("b").id });
    assert.equal(sim.run.status, "RUNNING");
    assert.deepEqual(
      sim
        .statuses()
        .map(([ref]) => ref)
        .sort(),
      ["a", "b", "c", "fork", "join"],
    );
    sim.finish("b");
    sim.finish("c");
    sim.finish("d");
    assert.equal(sim.run.status, "COMPLETED");
  });
});

describe("restart", () => {
  it("is refused for restartable: false", () => {
    const sim = new Sim(flowDef([simple("a")], { restartable: false }));
    sim.finish("a");
    assert.throws(() => sim.apply({ kind: "restart", useLatest: false }), /not restartable/);
  });
});
