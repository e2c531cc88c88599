// Conductor's Python SDK (conductor-python, unchanged, from PyPI) against
// Baton's REST API: its TaskHandler's worker processes run a Conductor
// fixture flow (a retry after a failure, a task that comes back later, a
// long task, a terminal error) and its workflow client registers, starts,
// waits, searches, reruns, retries, pauses, resumes and terminates runs, logged
// in with a Baton key's id and secret. The SDK is installed by
// test/conductor/python/setup.sh (.ci/run runs it; so does this test if needed).
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { assertHandedAsConductor, LONG_RUN_TASKS, NO_CONDUCTOR_ENV, runSdkCheck, startKeyedRestServer, type KeyedRestServer } from "./support.js";

const here = path.dirname(fileURLToPath(import.meta.url));
let s: KeyedRestServer;
let python: string;

before(async () => {
  python = execFileSync("bash", [path.join(here, "python/setup.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  s = await startKeyedRestServer("python sdk");
});
after(() => s.close());

test("conductor-python workers and workflow client run a Conductor fixture flow on Baton", async () => {
  const seen = await runSdkCheck("Python", python, [path.join(here, "python/sdk_check.py"), `${s.base}/api`, s.keyId, s.keySecret], NO_CONDUCTOR_ENV);

  assert.equal(seen.long.status, "COMPLETED", JSON.stringify(seen.long));
  assert.deepEqual(
    seen.long.tasks.map((t: unknown[]) => t.slice(0, 3)),
    LONG_RUN_TASKS,
  );
  assert.equal(seen.long.tasks[1][3], "py-sdk", "workerId kept on the task");
  assert.ok(seen.long.t2_output.polls >= 2, "t2 came back after its callback");
  // The polled Task carried the run's facts, as Conductor's does.
  assert.equal(seen.handed.length, 2, JSON.stringify(seen.handed));
  for (const { workflow_id, handed, stored } of seen.handed) {
    assertHandedAsConductor(camelCase(handed), camelCase(stored), { workflowId: workflow_id, correlationId: "py-long" });
    assert.equal(handed.task_def_name, stored.task_def_name);
    assert.equal(handed.task_type, stored.task_type);
    assert.deepEqual(handed.input_data, stored.input_data);
  }

  assert.equal(seen.terminal.status, "FAILED");
  assert.deepEqual(
    seen.terminal.tasks.map((t: unknown[]) => t[1]),
    ["FAILED_WITH_TERMINAL_ERROR"],
  );
  assert.match(seen.terminal.reason, /never work/);
  assert.deepEqual(seen.terminal_retried, { status: "FAILED", attempts: 2 });

  assert.equal(seen.sync.status, "COMPLETED");
  assert.deepEqual(seen.search, [seen.sync.workflow_id]);
  assert.equal(seen.rerun.status, "COMPLETED");
  assert.equal(seen.rerun.t2_input.tp1, "again");
  assert.deepEqual(seen.operate, { paused: "PAUSED", resumed: "RUNNING", ended: "TERMINATED", reason: "stopped by the python client" });
  assert.deepEqual(seen.removed, { latest: 1, refused: [404, 404], run: "RUNNING" });

  // What the Python client did is Baton's own state: the gRPC door sees the same runs.
  assert.equal((await s.grpc.getWorkflow(seen.sync.workflow_id)).status, "COMPLETED");
});

/** The Python SDK's fields (snake_case) by Conductor's names (camelCase). */
function camelCase(fields: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(fields).map(([name, value]) => [name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()), value]));
}
