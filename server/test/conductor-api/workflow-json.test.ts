// GET /api/workflow/{id} writes a run in pieces, made in slices (a run of
// thousands of tasks would hold the event loop): joined, they are the text
// the whole run serialised at once gives, long integers and all.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create } from "@bufbuild/protobuf";
import { TaskSchema, WorkflowSchema, stringifyJson } from "@baton/protocol";
import { toWorkflow, workflowJson } from "../../src/conductor-api/shapes.js";

const run = (tasks: number) =>
  create(WorkflowSchema, {
    workflowId: "w",
    parentWorkflowId: "p",
    // A string that reads like the tasks key, and a long integer.
    inputJson: '{"big":123456789012345678901234,"s":"\\"tasks\\":[]"}',
    variablesJson: '{"a":[1,2]}',
    tasks: Array.from({ length: tasks }, (_, i) =>
      create(TaskSchema, {
        taskId: `t${i}`,
        referenceTaskName: `n__${i}`,
        inputJson: JSON.stringify({ i, t: "é\u2028" }),
        outputJson: i % 2 ? '{"n":98765432109876543210}' : "",
      }),
    ),
  });

describe("workflowJson", () => {
  it("is stringifyJson(toWorkflow(run)), with no tasks, a few, and more than one piece holds", async () => {
    for (const tasks of [0, 1, 100, 250]) {
      const pieces = await workflowJson(run(tasks));
      assert.equal(pieces.join(""), stringifyJson(toWorkflow(run(tasks))), `${tasks} tasks`);
    }
  });
});
