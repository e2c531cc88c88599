// `baton get` shows a run as it is now: a step retried until it completed is
// not "failed", a rerun's old output is not current, a terminated run's output
// is what it produced, notes are cut between words, and each attempt names its
// worker. `baton logs` shows what tasks logged. `baton graph` tells a CANCELED
// step from a skipped one.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { BatonClient, TerminalError, Worker } from "@baton/client";
import { json, startTestServer, type TestServer } from "./support.js";

const LONG = "the payment provider answered with an error that is long enough to be cut somewhere in the middle of this sentence";

describe("baton get, logs and graph tell the truth", () => {
  let s: TestServer;
  let worker: Worker;
  let attempts = 0;

  before(async () => {
    s = await startTestServer();
    const client = new BatonClient({ address: s.address });
    await client.registerTaskDefs([
      { name: "truth_flaky", retryCount: 1, retryDelaySeconds: 0, timeoutSeconds: 60, responseTimeoutSeconds: 30 },
      { name: "truth_long", retryCount: 0, timeoutSeconds: 60, responseTimeoutSeconds: 30 },
    ]);
    await client.registerWorkflowDef({
      name: "truth_flaky",
      schemaVersion: 2,
      tasks: [
        { name: "truth_flaky", taskReferenceName: "flaky", type: "SIMPLE" },
        { name: "truth_long", taskReferenceName: "long", type: "SIMPLE", optional: true },
      ],
      outputParameters: { done: "${flaky.output.done}" },
    });
    await client.registerWorkflowDef({
      name: "truth_wait",
      schemaVersion: 2,
      tasks: [{ name: "wait", taskReferenceName: "wait", type: "WAIT" }],
      outputParameters: { v: "${wait.output.v}", at: "${workflow.input.at}" },
    });
    await client.registerWorkflowDef({
      name: "truth_fork",
      schemaVersion: 2,
      tasks: [
        {
          name: "fork",
          taskReferenceName: "fork",
          type: "FORK_JOIN",
          forkTasks: [[{ name: "wait", taskReferenceName: "wait_a", type: "WAIT" }], [{ name: "wait", taskReferenceName: "wait_b", type: "WAIT" }]],
        },
        { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: ["wait_a", "wait_b"] },
      ],
    });
    client.close();
    worker = new Worker({ address: s.address, workerId: "truth-worker-1" })
      .handle("truth_flaky", async (_input, task) => {
        await task.log(`attempt ${task.retryCount + 1} starting`);
        if (++attempts === 1) throw new Error("flaked");
        return { done: true };
      })
      .handle("truth_long", () => {
        throw new TerminalError(LONG);
      })
      .start();
  });

  after(async () => {
    await worker?.stop();
    await s?.close();
  });

  test("a retried-then-completed step: not failed; the attempt it replaced says so; each names its worker", async () => {
    const started = await s.cli(["start", "truth_flaky", "--wait", "-o", "json"]);
    assert.equal(started.code, 0, started.stderr);
    const id = json<{ workflowId: string }>(started.stdout).workflowId;
    const got = await s.cli(["get", id]);
    assert.equal(got.code, 0, got.stderr);
    assert.doesNotMatch(got.stdout, /^ {2}failed /m, "no step is failed now");
    assert.match(got.stdout, /^ {2}output {4}\{"done":true\}$/m);
    assert.match(got.stdout, /^SEQ +REF +TYPE +STATUS +RETRIES +TIME +WORKER +NOTE$/m);
    assert.match(got.stdout, /^1 +flaky +truth_flaky +FAILED +0 +\S+( \S+)? +truth-worker-1 +retried: flaked$/m);
    assert.match(got.stdout, /^2 +flaky +truth_flaky +COMPLETED +1 +\S+( \S+)? +truth-worker-1$/m);
    // The note is cut between two words, with an ellipsis.
    const note = /^3 +long +truth_long +\S+ .* truth-worker-1 +(.*)$/m.exec(got.stdout)?.[1] ?? "";
    assert.ok(note.endsWith("…") && note.length <= 80, got.stdout);
    assert.ok(LONG.startsWith(note.slice(0, -1)) && LONG[note.length - 1] === " ", `cut at a word boundary: ${note}`);

    const logs = await s.cli(["logs", id, "--task", "flaky"]);
    assert.equal(logs.code, 0, logs.stderr);
    assert.match(logs.stdout, /^\S+ \S+ {2}flaky {2}attempt 1 starting\n\S+ \S+ {2}flaky \(retry 1\) {2}attempt 2 starting\n$/);
    const logsJson = json<{ referenceTaskName: string; logs: { message: string }[] }[]>((await s.cli(["logs", id, "-o", "json"])).stdout);
    assert.deepEqual(
      logsJson.map((t) => [t.referenceTaskName, t.logs.map((l) => l.message)]),
      [
        ["flaky", ["attempt 1 starting"]],
        ["flaky", ["attempt 2 starting"]],
        ["long", []],
      ],
    );
    const none = await s.cli(["logs", id, "--task", "nope"]);
    assert.equal(none.code, 1);
    assert.equal(none.stderr, `error: run ${id} has no task nope; its tasks: flaky, long\n`);
  });

  test("after a rerun the old output is not shown as current; a terminated run shows what it produced", async () => {
    const id = (await s.cli(["start", "truth_wait", "--input", '{"at":"home"}'])).stdout.trim().split(/\s/)[0]!;
    assert.equal((await s.cli(["signal", id, "--task", "wait", "--output", '{"v":1}'])).code, 0);
    const done = await s.cli(["get", id, "--watch", "--interval", "0.1"]);
    assert.match(done.stdout, /^ {2}output {4}\{"v":1,"at":"home"\}$/m);
    assert.equal((await s.cli(["rerun", id, "--task", "wait"])).code, 0);
    const rerun = await s.cli(["get", id]);
    assert.match(rerun.stdout, /RUNNING/);
    assert.doesNotMatch(rerun.stdout, /^ {2}output /m, "the output from before the rerun is not current");

    assert.equal((await s.cli(["terminate", id, "--reason", "enough"])).code, 0);
    const terminated = await s.cli(["get", id]);
    assert.match(terminated.stdout, /^ {2}output {4}\{"at":"home"\}$/m, "only what it produced, not v: null");
  });

  test("graph: a join canceled by a terminate is canceled, not skipped", async () => {
    const id = (await s.cli(["start", "truth_fork"])).stdout.trim().split(/\s/)[0]!;
    assert.equal((await s.cli(["terminate", id, "--reason", "stop"])).code, 0);
    const run = json<{ tasks: { referenceTaskName: string; status: string }[] }>((await s.cli(["get", id, "-o", "json"])).stdout);
    assert.equal(run.tasks.find((t) => t.referenceTaskName === "join")?.status, "CANCELED");
    const graph = await s.cli(["graph", id]);
    assert.equal(graph.code, 0, graph.stderr);
    assert.match(graph.stdout, /^ {2}class [^\n]*\bt_join\b[^\n]* canceled$/m);
    assert.doesNotMatch(graph.stdout, /^ {2}class [^\n]*\bt_join\b[^\n]* skipped$/m);
  });
});
