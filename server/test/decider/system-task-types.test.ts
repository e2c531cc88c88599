// The SDK's one list of Conductor task types decides what the server runs
// itself: every type it names but SIMPLE has a system task here, except those
// Baton does not run (which validation refuses); any other name is a worker's.
import assert from "node:assert/strict";
import { test } from "node:test";
import { SYSTEM_TASK_TYPES, TASK_TYPES, UNSERVED_TASK_TYPES, type WorkflowDef } from "@baton/sdk";
import { SYSTEM_TASKS, isWorkerTask } from "../../src/decider/system-tasks/index.js";
import { Sim } from "./sim.js";

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

test("the server runs no system type the SDK's list does not name", () => {
  for (const type of Object.keys(SYSTEM_TASKS)) assert.ok(SYSTEM_TASK_TYPES.has(type), `${type} is not in the SDK's list of task types`);
});

test("a task whose type is FORK (what a run reports for a fork, not a type a definition names) is a worker's: retried, it runs again", () => {
  const def = { name: "typed_fork", version: 1, schemaVersion: 2, tasks: [{ name: "fork_typed", taskReferenceName: "t", type: "FORK" }] } as WorkflowDef;
  const sim = new Sim(def);
  assert.equal(sim.latest("t").status, "SCHEDULED", "handed to workers, not started by the server");
  sim.finish("t", "FAILED");
  assert.equal(sim.run.status, "FAILED");
  sim.apply({ kind: "retry", resumeSubworkflowTasks: false });
  assert.deepEqual(sim.statuses(), [
    ["t", "FAILED"],
    ["t", "SCHEDULED"],
  ]);
  sim.finish("t", "COMPLETED");
  assert.equal(sim.run.status, "COMPLETED");
});

test("rerun treats a task typed FORK as any worker's task: a branch cut off after it resumes as after a SIMPLE", () => {
  const statusesAfterRerun = (type: string) => {
    const worker = (ref: string, t = "SIMPLE") => ({ name: ref, taskReferenceName: ref, type: t });
    const sim = new Sim({
      name: "typed_fork_rerun",
      version: 1,
      schemaVersion: 2,
      tasks: [
        { name: "fork", taskReferenceName: "fork", type: "FORK_JOIN", forkTasks: [[worker("a", type), worker("c")], [worker("b")]] },
        { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: ["c", "b"] },
      ],
    } as WorkflowDef);
    for (const ref of ["a", "b", "c"]) sim.finish(ref);
    // c ended after b: the rerun of b drops it, and the branch must go on from a.
    sim.apply({ kind: "rerun", taskId: sim.latest("b").id });
    return sim.statuses();
  };
  assert.deepEqual(statusesAfterRerun("FORK"), statusesAfterRerun("SIMPLE"));
  assert.equal(statusesAfterRerun("FORK").find(([ref]) => ref === "c")?.[1], "SCHEDULED");
});
