// baton defs delete and delete-task against a real server: what is removed,
// what a second removal says, and that a run already started goes on.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { BatonClient } from "@baton/client";
import { json, startTestServer, type TestServer } from "./support.js";

describe("baton defs delete", () => {
  let s: TestServer;
  let client: BatonClient;

  before(async () => {
    s = await startTestServer();
    client = new BatonClient({ address: s.address, token: "", tls: false });
    await client.registerTaskDefs([{ name: "cli_removed_task", retryCount: 0 }]);
    for (const version of [1, 2]) {
      await client.registerWorkflowDef({
        name: "cli_removed",
        version,
        schemaVersion: 2,
        tasks: [{ name: "cli_removed_task", taskReferenceName: "r", type: "SIMPLE" }],
      });
    }
  });

  after(async () => {
    client?.close();
    await s?.close();
  });

  test("removes a version and a task definition; a second removal is not found (exit 1); usage errors exit 2", async () => {
    const runId = await client.startWorkflow("cli_removed", {}, { version: 2 });

    const removed = await s.cli(["defs", "delete", "cli_removed", "2"]);
    assert.equal(removed.code, 0, removed.stderr);
    assert.match(removed.stdout, /^workflow cli_removed version 2: deleted; latest is now version 1$/m);
    const listed = await s.cli(["defs", "cli_removed", "-o", "json"]);
    assert.deepEqual(
      json<{ version: number }[]>(listed.stdout).map((d) => d.version),
      [1],
    );

    const again = await s.cli(["defs", "delete", "cli_removed", "2", "-o", "json"]);
    assert.equal(again.code, 1);
    assert.equal(again.stdout, "");
    assert.match(json<{ error: { message: string } }>(again.stderr).error.message, /not found: no workflow definition cli_removed version 2/);

    const last = await s.cli(["defs", "delete", "cli_removed", "1", "-o", "json"]);
    assert.equal(last.code, 0, last.stderr);
    assert.deepEqual(json(last.stdout), { ok: true, deleted: { name: "cli_removed", version: 1 }, latestVersion: 0 });
    // With no version left the name is not found, as one version of it is (it listed nothing and exited 0).
    const gone = await s.cli(["defs", "cli_removed", "-o", "json"]);
    assert.equal(gone.code, 1, gone.stdout);
    assert.equal(gone.stdout, "");
    assert.match(json<{ error: { message: string } }>(gone.stderr).error.message, /not found: no workflow definition named cli_removed/);

    const task = await s.cli(["defs", "delete-task", "cli_removed_task", "-o", "json"]);
    assert.equal(task.code, 0, task.stderr);
    assert.deepEqual(json(task.stdout), { ok: true, deleted: "cli_removed_task" });
    const taskAgain = await s.cli(["defs", "delete-task", "cli_removed_task"]);
    assert.equal(taskAgain.code, 1);
    assert.match(taskAgain.stderr, /not found: no task definition cli_removed_task/);

    const badVersion = await s.cli(["defs", "delete", "cli_removed", "two"]);
    assert.equal(badVersion.code, 2);
    assert.match(badVersion.stderr, /<version> must be a whole number/);

    // The run started on version 2 still holds its definition.
    const run = await client.getWorkflow(runId);
    assert.equal(run.status, "RUNNING");
    assert.equal(run.workflowVersion, 2);
  });
});
