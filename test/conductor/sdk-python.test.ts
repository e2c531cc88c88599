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
import { BatonClient } from "@baton/client";
import { openKeyRegistry } from "@baton/server";
import { runSdkCheck, startRestServer, type RestServer } from "./support.js";

const here = path.dirname(fileURLToPath(import.meta.url));
let s: RestServer;
let python: string;
let keyId: string;
let keySecret: string;
let adminKey: string;

before(async () => {
  python = execFileSync("bash", [path.join(here, "python/setup.sh")], { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] }).trim();
  s = await startRestServer({ auth: { mode: "required", cacheMs: 0 } });
  const keys = await openKeyRegistry(s.databaseUrl);
  const { key } = await keys.registry.create({ role: "admin", name: "python sdk" });
  await keys.close();
  adminKey = key;
  [, keyId, keySecret] = /^bk_([a-z0-9]+)_(.+)$/.exec(key)! as unknown as [string, string, string];
});
after(() => s.close());

test("conductor-python workers and workflow client run a Conductor fixture flow on Baton", async () => {
  const seen = await runSdkCheck("Python", python, [path.join(here, "python/sdk_check.py"), `${s.base}/api`, keyId, keySecret], {
    CONDUCTOR_SERVER_URL: "",
    CONDUCTOR_AUTH_KEY: "",
    CONDUCTOR_AUTH_SECRET: "",
  });

  assert.equal(seen.long.status, "COMPLETED", JSON.stringify(seen.long));
  assert.deepEqual(
    seen.long.tasks.map((t: unknown[]) => [t[0], t[1]]),
    [
      ["t1", "FAILED"],
      ["t1", "COMPLETED"],
      ["t2", "COMPLETED"],
      ["t3", "COMPLETED"],
    ],
  );
  assert.equal(seen.long.tasks[1][2], 1, "the second t1 is the retry");
  assert.equal(seen.long.tasks[1][3], "py-sdk", "workerId kept on the task");
  assert.ok(seen.long.t2_output.polls >= 2, "t2 came back after its callback");
  // The polled Task carried the run's facts, as Conductor's does.
  assert.equal(seen.handed.length, 2, JSON.stringify(seen.handed));
  for (const { workflow_id, handed, stored } of seen.handed) {
    assert.equal(handed.workflow_instance_id, workflow_id);
    assert.equal(handed.workflow_type, "integration_test_wf3");
    assert.equal(handed.correlation_id, "py-long");
    assert.equal(handed.workflow_priority, 7);
    assert.equal(handed.status, "IN_PROGRESS");
    assert.equal(handed.seq, stored.seq);
    assert.ok(handed.seq > 0);
    assert.equal(handed.scheduled_time, stored.scheduled_time);
    assert.ok(handed.scheduled_time > 0 && handed.start_time >= handed.scheduled_time, JSON.stringify(handed));
    assert.equal(handed.retry_count, stored.retry_count);
    assert.equal(handed.task_def_name, stored.task_def_name);
    assert.equal(handed.task_type, stored.task_type);
    assert.deepEqual(handed.input_data, stored.input_data);
    assert.equal(handed.response_timeout_seconds, 60);
    assert.ok(handed.poll_count >= 1);
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
  const grpc = new BatonClient({ address: s.server.address, token: adminKey, tls: false });
  try {
    assert.equal((await grpc.getWorkflow(seen.sync.workflow_id)).status, "COMPLETED");
  } finally {
    grpc.close();
  }
});
