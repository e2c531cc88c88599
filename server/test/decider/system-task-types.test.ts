// The SDK's one list of Conductor task types decides what the server runs
// itself: every type it names but SIMPLE has a system task here, except those
// Baton does not run (which validation refuses); any other name is a worker's.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SYSTEM_TASK_TYPES, TASK_TYPES, UNSERVED_TASK_TYPES } from "@baton/sdk";
import { SYSTEM_TASKS, isWorkerTask } from "../../src/decider/system-tasks/index.js";

test("every system type in the SDK's list is run by the server, but the ones refused as not served", () => {
  for (const type of SYSTEM_TASK_TYPES) {
    const served = !(UNSERVED_TASK_TYPES as ReadonlySet<string>).has(type);
    assert.equal(SYSTEM_TASKS[type] !== undefined, served, `${type} ${served ? "has" : "has no"} system task`);
    assert.equal(isWorkerTask(type), false, `${type} is not handed to workers`);
  }
});

test("SIMPLE and names Conductor does not define are workers' tasks", () => {
  assert.ok(TASK_TYPES.includes("SIMPLE"));
  for (const type of ["SIMPLE", "send_email", "encode_video"]) assert.equal(isWorkerTask(type), true, type);
});
