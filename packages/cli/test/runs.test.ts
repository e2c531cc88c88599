// Runs from the command line against a real server, with a real TS worker
// in this process: start --wait, get (Conductor's Workflow), search, the
// operations, exit codes and error messages, and a run's graph.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { TerminalError, Worker, type ConductorWorkflow } from "@baton/client";
import { json, removeDir, startTestServer, tempProject, type TestServer } from "./support.js";

const greet = {
  name: "cli_greet",
  version: 1,
  tasks: [{ name: "cli_hello", taskReferenceName: "hello", type: "SIMPLE", inputParameters: { name: "${workflow.input.name}" } }],
  outputParameters: { greeting: "${hello.output.greeting}" },
  schemaVersion: 2,
};

const stuck = {
  name: "cli_stuck",
  version: 1,
  tasks: [{ name: "cli_never", taskReferenceName: "never", type: "SIMPLE" }],
  schemaVersion: 2,
};

describe("runs from the command line", () => {
  let s: TestServer;
  let worker: Worker;
  let dir: string;
  let failNext = false;

  before(async () => {
    s = await startTestServer();
    dir = tempProject({
      "defs/all.json": JSON.stringify({
        taskDefs: [
          { name: "cli_hello", retryCount: 0, timeoutSeconds: 60, responseTimeoutSeconds: 30 },
          {
            name: "cli_never",
            retryCount: 0,
            timeoutSeconds: 600,
            responseTimeoutSeconds: 300,
            concurrentExecLimit: 3,
            rateLimitPerFrequency: 20,
            rateLimitFrequencyInSeconds: 5,
          },
        ],
        workflowDefs: [greet, stuck],
      }),
    });
    const published = await s.cli(["publish", `${dir}/defs`]);
    assert.equal(published.code, 0, published.stderr);
    worker = new Worker({ address: s.address })
      .handle<{ name: string }, { greeting: string }>("cli_hello", (input) => {
        if (failNext) throw new TerminalError("no greeting today");
        return { greeting: `Hello, ${input.name}` };
      })
      .start();
  });

  after(async () => {
    await worker?.stop();
    await s?.close();
    if (dir) removeDir(dir);
  });

  test("start --wait prints the status and the output", async () => {
    const r = await s.cli(["start", "cli_greet", "--input", '{"name":"Ada"}', "--wait", "--timeout", "30"]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^[0-9a-f-]{36} {2}cli_greet v1 {2}COMPLETED in /m);
    assert.match(r.stdout, /"greeting": "Hello, Ada"/);
    assert.match(r.stderr, /^started [0-9a-f-]{36}/m);
  });

  test("get -o json is Conductor's Workflow, get prints a summary and a task table", async () => {
    const started = await s.cli(["start", "cli_greet", "-i", '{"name":"Grace"}', "--correlation-id", "order-7", "--wait", "-o", "json"]);
    assert.equal(started.code, 0, started.stderr);
    const id = json<ConductorWorkflow>(started.stdout).workflowId;

    const got = await s.cli(["get", id, "-o", "json"]);
    assert.equal(got.code, 0, got.stderr);
    const run = json<ConductorWorkflow & Record<string, unknown>>(got.stdout);
    assert.equal(run.workflowId, id);
    assert.equal(run.workflowName, "cli_greet");
    assert.equal(run.workflowVersion, 1);
    assert.equal(run.status, "COMPLETED");
    assert.equal(run["correlationId"], "order-7");
    assert.deepEqual(run.input, { name: "Grace" });
    assert.deepEqual(run.output, { greeting: "Hello, Grace" });
    for (const key of ["createTime", "updateTime", "endTime", "priority", "variables", "failedReferenceTaskNames"])
      assert.ok(key in run, `Workflow has ${key}`);
    const [task] = run.tasks;
    assert.ok(task);
    // Conductor reports a SIMPLE task's taskType as its task name; Baton's server says "SIMPLE" (see report).
    assert.equal(task.taskDefName, "cli_hello");
    assert.equal(task.referenceTaskName, "hello");
    assert.equal(task.status, "COMPLETED");
    assert.equal(task.workflowInstanceId, id);
    assert.deepEqual(task.outputData, { greeting: "Hello, Grace" });

    const text = await s.cli(["get", id]);
    assert.match(text.stdout, /cli_greet v1 {2}COMPLETED/);
    assert.match(text.stdout, /^SEQ +REF +TYPE +STATUS/m);
    assert.match(text.stdout, /^1 +hello +\S+ +COMPLETED/m);

    const found = json<{ results: ConductorWorkflow[] }>(
      (await s.cli(["search", "--name", "cli_greet", "--status", "COMPLETED", "--correlation-id", "order-7", "-o", "json"])).stdout,
    );
    assert.deepEqual(
      found.results.map((r) => r.workflowId),
      [id],
    );
    const listed = await s.cli(["list", "--name", "cli_greet", "--since", "1h"]);
    assert.match(listed.stdout, new RegExp(id));
    // --sort: the server's order, across pages of the CLI's own paging.
    const byEnd = json<{ results: ConductorWorkflow[] }>((await s.cli(["search", "--sort", "end-asc", "-o", "json"])).stdout).results;
    assert.ok(byEnd.length >= 1);
    assert.deepEqual(
      byEnd.map((r) => r.endTime),
      byEnd.map((r) => r.endTime).sort((a, b) => a - b),
    );
    const badSort = await s.cli(["search", "--sort", "newest", "-o", "json"]);
    assert.equal(badSort.code, 2);
    assert.match(
      badSort.stderr,
      /--sort must be one of start-desc, start-asc, end-desc, end-asc, name-asc, name-desc, status-asc, status-desc; not \\"newest\\"/,
    );
  });

  test("a run that fails: --wait exits 1 with the reason; retry and get --watch bring it to COMPLETED", async () => {
    failNext = true;
    const r = await s.cli(["start", "cli_greet", "--input", '{"name":"Lin"}', "--wait", "-o", "json"]);
    assert.equal(r.code, 1);
    const run = json<ConductorWorkflow>(r.stdout);
    assert.equal(run.status, "FAILED");
    assert.match(r.stderr, /ended FAILED: .*no greeting today/);

    failNext = false;
    const retried = await s.cli(["retry", run.workflowId]);
    assert.equal(retried.code, 0, retried.stderr);
    assert.match(retried.stdout, new RegExp(`^retried ${run.workflowId}$`, "m"));
    const watched = await s.cli(["get", run.workflowId, "--watch", "--interval", "0.2"]);
    assert.equal(watched.code, 0, watched.stderr);
    assert.match(watched.stdout, /COMPLETED/);
  });

  test("operations: pause, resume, terminate; --wait --timeout gives up with exit 1", async () => {
    const id = (await s.cli(["start", "cli_stuck"])).stdout.trim();
    assert.match(id, /^[0-9a-f-]{36}$/);

    const waited = await s.cli(["start", "cli_stuck", "--wait", "--timeout", "0.5"]);
    assert.equal(waited.code, 1);
    assert.match(waited.stderr, /still RUNNING/);
    await s.cli(["terminate", waited.stdout.split(/\s+/)[0] ?? ""]);
    const stalled = await s.cli(["start", "cli_stuck", "--wait", "--timeout", "4"]);
    assert.equal(stalled.code, 1);
    assert.match(stalled.stderr, /warning: the run waits on task type cli_never, which no connected worker serves/);
    await s.cli(["terminate", stalled.stdout.split(/\s+/)[0] ?? ""]);

    const paused = await s.cli(["pause", id, "-o", "json"]);
    assert.equal(paused.code, 0, paused.stderr);
    assert.equal(json<ConductorWorkflow>(paused.stdout).status, "PAUSED");
    const resumed = await s.cli(["resume", id]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(json<ConductorWorkflow>((await s.cli(["get", id, "-o", "json"])).stdout).status, "RUNNING");

    // Per task type: depths, the limits its task definition sets, and who serves it.
    const queues = json<{ taskType: string; ready: number; workers: number; concurrency?: number; rate?: object }[]>(
      (await s.cli(["tasks", "-o", "json"])).stdout,
    );
    const never = queues.find((q) => q.taskType === "cli_never");
    assert.ok(never && never.ready >= 1 && never.workers === 0, JSON.stringify(queues));
    assert.equal(never.concurrency, 3);
    assert.deepEqual(never.rate, { perFrequency: 20, frequencySeconds: 5 });
    assert.match((await s.cli(["tasks"])).stdout, /^cli_never +\d+ +\d+ +\d+ +3 +20 per 5 s +none \(tasks wait\)$/m);
    const got = await s.cli(["get", id]);
    assert.match(got.stderr, /waits on task type cli_never, which no connected worker serves/);
    assert.match(got.stdout, new RegExp(`^console: http://127\\.0\\.0\\.1:7234/runs/${id}$`, "m"));

    const terminated = await s.cli(["terminate", id, "--reason", "test over"]);
    assert.equal(terminated.code, 0, terminated.stderr);
    const after = json<ConductorWorkflow>((await s.cli(["get", id, "-o", "json"])).stdout);
    assert.equal(after.status, "TERMINATED");
    assert.match(after.reasonForIncompletion ?? "", /test over/);

    const again = await s.cli(["pause", id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^error: /m);
  });

  test("signal, restart, rerun and skip", async () => {
    const id = (await s.cli(["start", "cli_stuck"])).stdout.trim();
    const signalled = await s.cli(["signal", id, "--task", "never", "--output", '{"answer":42}', "-o", "json"]);
    assert.equal(signalled.code, 0, signalled.stderr);
    const watched = await s.cli(["get", id, "--watch", "--interval", "0.2", "-o", "json"]);
    assert.equal(watched.code, 0, watched.stderr);
    const done = json<ConductorWorkflow>(watched.stdout);
    assert.equal(done.status, "COMPLETED");
    assert.deepEqual(done.tasks.find((t) => t.referenceTaskName === "never")?.outputData, { answer: 42 });

    const restarted = await s.cli(["restart", id, "-o", "json"]);
    assert.equal(restarted.code, 0, restarted.stderr);
    assert.equal(json<ConductorWorkflow>(restarted.stdout).status, "RUNNING");
    assert.equal((await s.cli(["signal", id, "-t", "never", "--status", "FAILED", "--reason", "said no"])).code, 0);
    const failed = json<ConductorWorkflow>((await s.cli(["get", id, "-o", "json"])).stdout);
    assert.equal(failed.status, "FAILED");

    const rerun = await s.cli(["rerun", id, "--task", "never", "--task-input", '{"again":true}']);
    assert.equal(rerun.code, 0, rerun.stderr);
    assert.match(rerun.stdout, /rerunning from never/);
    assert.equal(json<ConductorWorkflow>((await s.cli(["get", id, "-o", "json"])).stdout).status, "RUNNING");

    const skipped = await s.cli(["skip", id, "--task", "never", "-o", "json"]);
    assert.equal(skipped.code, 0, skipped.stderr);
    const afterSkip = json<ConductorWorkflow>((await s.cli(["get", id, "--watch", "--interval", "0.2", "-o", "json"])).stdout);
    assert.equal(afterSkip.status, "COMPLETED");
    assert.equal(afterSkip.tasks.filter((t) => t.referenceTaskName === "never").at(-1)?.status, "SKIPPED");
  });

  test("clear errors: not found, unreachable server, bad input", async () => {
    const missing = await s.cli(["get", "00000000-0000-4000-8000-000000000000"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error: not found: /m);

    const unknown = await s.cli(["start", "cli_no_such_flow"]);
    assert.equal(unknown.code, 1);
    // Says where the registered ones are, and how one gets there.
    assert.equal(
      unknown.stderr,
      "error: not found: no workflow definition cli_no_such_flow: `baton defs` lists the registered workflows, `baton publish` registers one\n",
    );
    // A search by a name no workflow has found nothing: a typo, most likely.
    const typo = await s.cli(["search", "--name", "cli_no_such_flow"]);
    assert.equal(typo.code, 0);
    assert.equal(typo.stdout, "no runs found\n");
    assert.equal(typo.stderr, 'warning: no workflow "cli_no_such_flow" is registered: check the name (`baton defs` lists them)\n');
    const known = await s.cli(["search", "--name", "cli_greet", "--status", "PAUSED", "--since", "1s"]);
    assert.equal(known.stderr, "", "a registered workflow with no runs found: no warning");

    const badInput = await s.cli(["start", "cli_greet", "--input", "{bad"]);
    assert.equal(badInput.code, 2);
    assert.match(badInput.stderr, /--input is not valid JSON/);

    const down = await s.cli(["get", "x", "--address", "127.0.0.1:1"]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /cannot reach a Baton server at 127\.0\.0\.1:1/);

    const unknownFlag = await s.cli(["get", "x", "--frobnicate"]);
    assert.equal(unknownFlag.code, 2);
  });

  test("graph of a run marks the path taken", async () => {
    const r = await s.cli(["start", "cli_greet", "--input", '{"name":"Ada"}', "--wait", "-o", "json"]);
    const id = json<ConductorWorkflow>(r.stdout).workflowId;
    const graph = await s.cli(["graph", id]);
    assert.equal(graph.code, 0, graph.stderr);
    assert.match(graph.stdout, /^flowchart TD$/m);
    assert.match(graph.stdout, /^ {2}class start_,t_hello,end_ completed$/m);

    const byName = await s.cli(["graph", "cli_greet"]);
    assert.equal(byName.code, 0, byName.stderr);
    assert.doesNotMatch(byName.stdout, /classDef/);
  });
});
