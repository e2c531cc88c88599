// Conductor's Go SDK (github.com/conductor-sdk/conductor-go v1.5.4, unchanged,
// from the Go module proxy; pinned in test/conductor/go/go.mod and go.sum)
// against Baton's REST API: its TaskRunner runs the workers of a Conductor
// fixture flow (a retry after a failure, a task that comes back after
// callbackAfterSeconds, a long task, a terminal error) and its metadata
// client and WorkflowExecutor register, start, start-and-wait, read, search,
// rerun, restart, retry, pause, resume, terminate and complete runs, logged in
// with a Baton key's id and secret. The program is built once here
// (`.ci/run` downloads the module first).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { assertHandedAsConductor, LONG_RUN_TASKS, NO_CONDUCTOR_ENV, runSdkCheck, startKeyedRestServer, storedBeside, type KeyedRestServer } from "./support.js";

const goModule = path.join(path.dirname(fileURLToPath(import.meta.url)), "go");
const buildDir = mkdtempSync(path.join(tmpdir(), "baton-conductor-go-"));
const binary = path.join(buildDir, "conductor-go-check");
let s: KeyedRestServer;

before(async () => {
  try {
    execFileSync("go", ["version"], { stdio: "ignore" });
  } catch {
    throw new Error("Go is needed to build Conductor's Go SDK check (test/conductor/go): install Go 1.24 or later and put `go` on PATH");
  }
  // -mod=readonly: go.mod and go.sum pin the SDK and everything it needs; nothing is resolved anew.
  execFileSync("go", ["build", "-mod=readonly", "-buildvcs=false", "-o", binary, "."], { cwd: goModule, stdio: ["ignore", "inherit", "inherit"] });
  s = await startKeyedRestServer("go sdk");
});
after(async () => {
  rmSync(buildDir, { recursive: true, force: true });
  await s?.close();
});

test("conductor-go's TaskRunner and workflow clients run a Conductor fixture flow on Baton", async () => {
  const seen = await runSdkCheck("Go", binary, [`${s.base}/api`, s.keyId, s.keySecret], NO_CONDUCTOR_ENV);

  assert.deepEqual(seen.registered, { name: "integration_test_wf3", version: 1, tasks: 3 });
  assert.equal(seen.long.status, "COMPLETED", JSON.stringify(seen.long));
  assert.deepEqual(
    seen.long.tasks.map((t: unknown[]) => t.slice(0, 3)),
    LONG_RUN_TASKS,
  );
  // The SDK's TaskResult carries the host's name as workerId; Baton keeps it on the task.
  for (const t of seen.long.tasks) assert.ok(typeof t[3] === "string" && t[3].length > 0, `workerId kept on ${JSON.stringify(t)}`);
  assert.ok(seen.t2Output.polls >= 2, `t2 came back after its callback: ${JSON.stringify(seen.t2Output)}`);

  // The polled Task carried the run's facts, as Conductor's does (both t1s, t2's last hand-out, t3).
  assert.equal(seen.handed.length, 4, JSON.stringify(seen.handed));
  for (const h of seen.handed) {
    assertHandedAsConductor(h, storedBeside(h), { workflowId: h.workflowId, correlationId: "go-long" });
    assert.equal(h.taskType, h.taskDefName);
    assert.deepEqual(h.inputData, h.storedInputData);
    assert.ok(h.referenceTaskName);
  }

  assert.equal(seen.terminal.status, "FAILED");
  assert.deepEqual(
    seen.terminal.tasks.map((t: unknown[]) => t[1]),
    ["FAILED_WITH_TERMINAL_ERROR"],
  );
  assert.match(seen.terminal.reason, /never work/);
  assert.deepEqual(seen.terminalRetried, { status: "FAILED", attempts: 2 });
  // Restart runs the flow again from its start: t1 fails terminally again.
  assert.deepEqual(seen.restart.status, "FAILED");
  assert.deepEqual(
    seen.restart.tasks.map((t: unknown[]) => t[1]),
    ["FAILED_WITH_TERMINAL_ERROR"],
  );

  assert.equal(seen.sync.status, "COMPLETED");
  assert.equal(seen.sync.tasks, 3);
  assert.deepEqual(seen.search, [seen.sync.workflowId]);
  assert.deepEqual(seen.state, { workflowId: seen.sync.workflowId, status: "COMPLETED", correlationId: "go-sync" });
  assert.deepEqual(seen.correlated, { "go-sync": 1, "go-long": 1 });
  // Rerun from t2 with new task input (Conductor's rerun replaces the task's input with it).
  assert.deepEqual(seen.rerun, { id: seen.sync.workflowId, status: "COMPLETED", t2Input: { tp1: "again" } });

  assert.deepEqual(seen.operate, {
    running: [seen.operate.idleId],
    idleId: seen.operate.idleId,
    paused: "PAUSED",
    resumed: "RUNNING",
    ended: "TERMINATED",
    reason: "stopped by the go client",
    retried: "RUNNING",
    completed: "COMPLETED",
    tasks: seen.operate.tasks,
  });
  assert.deepEqual(seen.operate.tasks.map((t: unknown[]) => `${t[0]} ${t[1]}`).sort(), ["t4 CANCELED", "t4 COMPLETED", "t5 SKIPPED"]);
  assert.deepEqual(seen.t4Output, { by: "reference" });
  assert.deepEqual(seen.queue, { sizes: { integration_task_4: 1 }, logs: ["looked at by the go client"] });
  assert.equal(seen.events.found.length, 1, JSON.stringify(seen.events));
  assert.deepEqual(seen.events.found[0], {
    name: "go_handler",
    event: "conductor:go_idle_flow:t4",
    condition: "$.ok == true",
    actions: [{ action: "complete_task", complete_task: { workflowId: "${workflowInstanceId}", taskRefName: "t4" } }],
    active: true,
  });
  assert.equal(seen.events.left, 0);
  assert.deepEqual(seen.removed, { latest: 1, refused: [404, 404], run: "RUNNING" });
  // Polled as "go-poller", answered by the SDK's TaskResult helper under the host's name: accepted, as by Conductor.
  assert.notEqual(seen.single.resultWorker, "go-poller");
  // The task keeps the result's workerId, as Conductor's does.
  assert.deepEqual(seen.single, {
    status: "COMPLETED",
    output: { polled: "go-poller" },
    resultWorker: seen.single.resultWorker,
    taskWorker: seen.single.resultWorker,
  });

  // What the Go client did is Baton's own state: the gRPC door sees the same runs.
  assert.equal((await s.grpc.getWorkflow(seen.sync.workflowId)).status, "COMPLETED");
  assert.equal((await s.grpc.getWorkflow(seen.operate.idleId)).status, "COMPLETED");
});
