// @baton/testing against itself: flows run on a real server and PostgreSQL
// with mocked steps, and the clock skips retry delays, WAITs and callbacks.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { taskType, workflow } from "@baton/sdk";
import { TerminalError, TestEnvironment, inProgress } from "../src/index.js";

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

const greet = taskType<{ name: string }, { greeting: string }>("t_greet", { retryCount: 0, responseTimeoutSeconds: 30 });
const shout = taskType<{ text: string }, { text: string }>("t_shout", { retryCount: 0, responseTimeoutSeconds: 30 });
const flaky = taskType<{ n: number }, { ok: boolean }>("t_flaky", {
  retryCount: 2,
  retryLogic: "FIXED",
  retryDelaySeconds: 3600,
  responseTimeoutSeconds: 30,
});
const slowPoll = taskType<{ job: string }, { state: string }>("t_slow_poll", { retryCount: 0, responseTimeoutSeconds: 30 });

const hello = workflow("t_hello", { version: 1 })
  .input<{ name: string }>("name")
  .steps((wf) => {
    const g = greet.step("greet", { name: wf.input.name });
    const s = shout.step("shout", { text: g.output.greeting });
    return { message: s.output.text };
  });

describe("TestEnvironment", () => {
  let env: TestEnvironment;
  before(async () => {
    env = await TestEnvironment.create();
    env.mock(greet, ({ name }) => ({ greeting: `hello, ${name}` }));
    env.mock(shout, async ({ text }) => ({ text: text.toUpperCase() }));
  });
  after(async () => {
    await env?.close();
  });

  test("runs a flow with typed mocks over the real wire and records their calls", async () => {
    const run = await env.execute(hello, { name: "ada" });
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.deepEqual(run.output, { message: "HELLO, ADA" });
    assert.deepEqual(run.waitingOn, []);
    assert.equal(run.task("greet")?.status, "COMPLETED");
    const calls = env.calls(greet).filter((c) => c.workflowId === run.workflowId);
    assert.deepEqual(
      calls.map((c) => [c.ref, c.input, c.output]),
      [["greet", { name: "ada" }, { greeting: "hello, ada" }]],
    );
  });

  test("mocking a type again replaces its handler", async () => {
    env.mock(shout, ({ text }) => ({ text: `${text}!` }));
    try {
      const run = await env.execute(hello, { name: "bob" });
      assert.deepEqual(run.output, { message: "hello, bob!" });
    } finally {
      env.mock(shout, async ({ text }) => ({ text: text.toUpperCase() }));
    }
  });

  test("a failed attempt is retried after its 1-hour delay, in virtual time", async () => {
    const flow = workflow("t_retry").steps(() => {
      const f = flaky.step("flaky", { n: 1 });
      return { ok: f.output.ok };
    });
    let attempts = 0;
    env.mock(flaky, () => {
      attempts++;
      if (attempts === 1) throw new Error("disk full");
      return { ok: true };
    });
    const run = await env.execute(flow, {});
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.deepEqual(run.output, { ok: true });
    assert.equal(attempts, 2);
    assert.deepEqual(
      run.tasks.map((t) => [t.referenceTaskName, t.status, t.retryCount]),
      [
        ["flaky", "FAILED", 0],
        ["flaky", "COMPLETED", 1],
      ],
    );
    assert.ok(run.endTime - run.createTime >= HOUR, `virtual duration ${run.endTime - run.createTime} ms`);
    const errors = env.calls(flaky).map((c) => (c.error instanceof Error ? c.error.message : undefined));
    assert.deepEqual(errors, ["disk full", undefined]);
  });

  test("a TerminalError fails the run with no retry", async () => {
    const flow = workflow("t_terminal").steps(() => {
      flaky.step("flaky", { n: 2 });
    });
    env.mock(flaky, () => {
      throw new TerminalError("bad input");
    });
    const run = await env.execute(flow, {});
    assert.equal(run.status, "FAILED");
    assert.deepEqual(
      run.tasks.map((t) => t.status),
      ["FAILED_WITH_TERMINAL_ERROR"],
    );
    assert.equal(run.endTime, run.createTime, "no time passed: nothing was retried");
  });

  test("a 3-day WAIT is skipped; with skipTime: false the run stops at it and advance() passes it", async () => {
    const flow = workflow("t_wait", { timeoutSeconds: 7 * 24 * 3600, timeoutPolicy: "TIME_OUT_WF" })
      .input<{ name: string }>("name")
      .steps((wf) => {
        const g = greet.step("greet", { name: wf.input.name });
        wf.wait({ ref: "three_days", duration: "3 days" });
        const s = shout.step("shout", { text: g.output.greeting });
        return { message: s.output.text };
      });

    const run = await env.execute(flow, { name: "cy" });
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.deepEqual(run.output, { message: "HELLO, CY" });
    const waited = run.task("three_days")!;
    assert.equal(waited.endTime - waited.startTime, 3 * DAY);

    const started = env.now();
    const runId = await env.start(flow, { name: "di" });
    const held = await env.drive(runId, { skipTime: false });
    assert.equal(held.status, "RUNNING");
    assert.equal(held.task("three_days")?.status, "IN_PROGRESS");
    assert.deepEqual(held.waitingOn, [], "a timed WAIT waits on the clock, not on the outside");
    assert.equal(env.now(), started);

    await env.advance("2d 23h");
    assert.equal((await env.drive(runId, { skipTime: false })).task("three_days")?.status, "IN_PROGRESS");
    await env.advance("1h");
    const done = await env.drive(runId, { skipTime: false });
    assert.equal(done.status, "COMPLETED", done.reasonForIncompletion);
    assert.deepEqual(done.output, { message: "HELLO, DI" });
  });

  test("a HUMAN task: execute returns the run waiting on it; signal and drive finish it; its workflow timeout is not skipped to", async () => {
    const flow = workflow("t_approval", { timeoutSeconds: 2 * 24 * 3600, timeoutPolicy: "TIME_OUT_WF" })
      .input<{ name: string }>("name")
      .steps((wf) => {
        const g = greet.step("greet", { name: wf.input.name });
        const approval = wf.human<{ approved: boolean }>({ ref: "approve", input: { text: g.output.greeting } });
        return { approved: approval.output.approved };
      });

    const before = env.now();
    const run = await env.execute(flow, { name: "ed" });
    assert.equal(run.status, "RUNNING");
    assert.deepEqual(run.waitingOn, ["approve"]);
    assert.equal(env.now(), before, "the 2-day workflow timeout was not skipped to");

    await env.signal(run.workflowId, "approve", { approved: true });
    const done = await env.drive(run.workflowId);
    assert.equal(done.status, "COMPLETED", done.reasonForIncompletion);
    assert.deepEqual(done.output, { approved: true });

    const ignored = await env.execute(flow, { name: "fay" });
    assert.deepEqual(ignored.waitingOn, ["approve"]);
    await env.advance("2d");
    const timedOut = await env.getRun(ignored.workflowId);
    assert.equal(timedOut.status, "TIMED_OUT");
  });

  test("a WAIT for a signal is signalled like a HUMAN task", async () => {
    const flow = workflow("t_signal").steps((wf) => {
      const w = wf.wait({ ref: "go", signal: true });
      return { said: w.output["said"] };
    });
    const run = await env.execute(flow, {});
    assert.deepEqual(run.waitingOn, ["go"]);
    await env.signal(run.workflowId, "go", { said: "now" });
    const done = await env.drive(run.workflowId);
    assert.equal(done.status, "COMPLETED", done.reasonForIncompletion);
    assert.deepEqual(done.output, { said: "now" });
  });

  test("a mock that answers inProgress(seconds) is called again after that many virtual seconds", async () => {
    const flow = workflow("t_callback").steps(() => {
      const p = slowPoll.step("poll", { job: "j1" });
      return { state: p.output.state };
    });
    let polls = 0;
    env.mock(slowPoll, () => (++polls < 3 ? inProgress(600, { polls }) : { state: "done" }));
    const run = await env.execute(flow, {});
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.deepEqual(run.output, { state: "done" });
    assert.equal(polls, 3);
    assert.equal(run.endTime - run.createTime, 2 * 600_000);
  });

  test("a sub-workflow's WAIT is skipped too", async () => {
    const child = workflow("t_child", { version: 1 })
      .input<{ name: string }>("name")
      .steps((wf) => {
        wf.wait({ ref: "nap", duration: "1h" });
        const g = greet.step("greet", { name: wf.input.name });
        return { greeting: g.output.greeting };
      });
    const parent = workflow("t_parent")
      .input<{ name: string }>("name")
      .steps((wf) => {
        const sub = wf.subWorkflow({ ref: "child", flow: child, input: { name: wf.input.name } });
        const s = shout.step("shout", { text: sub.output.greeting });
        return { message: s.output.text };
      });
    await env.register(child);
    const run = await env.execute(parent, { name: "gus" });
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.deepEqual(run.output, { message: "HELLO, GUS" });
    assert.ok(run.endTime - run.createTime >= HOUR);
  });

  test("a task type with no mock is an error that names it", async () => {
    const orphan = taskType<{ x: number }, { y: number }>("t_orphan", { retryCount: 0 });
    const flow = workflow("t_orphaned").steps(() => {
      orphan.step("orphan", { x: 1 });
    });
    await assert.rejects(env.execute(flow, {}), /task type "t_orphan", which has no mock/);
  });

  test("flows registered as JSON run by name, with mocks named by string", async () => {
    await env.client.registerTaskDefs([{ name: "t_json_step", retryCount: 0, responseTimeoutSeconds: 30 }]);
    await env.client.registerWorkflowDef({
      name: "t_json_flow",
      version: 1,
      schemaVersion: 2,
      tasks: [{ name: "t_json_step", taskReferenceName: "step", type: "SIMPLE", inputParameters: { n: "${workflow.input.n}" } }],
      outputParameters: { doubled: "${step.output.doubled}" },
    });
    env.mock<{ n: number }, { doubled: number }>("t_json_step", ({ n }) => ({ doubled: n * 2 }));
    const run = await env.execute("t_json_flow", { n: 21 });
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.deepEqual(run.output, { doubled: 42 });
    assert.deepEqual(
      env.calls("t_json_step").map((c) => c.input),
      [{ n: 21 }],
    );
  });

  test("an invalid flow is refused before it reaches the server, with the builder's diagnostics", async () => {
    const broken = workflow("t_broken").steps(() => {
      greet.step("same", { name: "a" });
      greet.step("same", { name: "b" });
    });
    await assert.rejects(env.execute(broken, {}), /t_broken v1 is invalid:[\s\S]*BATON101/);
  });
});
