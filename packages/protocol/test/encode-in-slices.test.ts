// A reply encoded in slices is toBinary's encoding byte for byte, and decodes
// to the same message; one with few list items is left as it is.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  GetWorkflowResponseSchema,
  SearchWorkflowsResponseSchema,
  TaskSchema,
  TaskStatus,
  WorkflowSchema,
  WorkflowStatus,
  encodedInSlices,
} from "@baton/protocol";

const task = (i: number) =>
  create(TaskSchema, {
    taskId: `t${i}`,
    workflowId: "w",
    taskType: "NOOP",
    referenceTaskName: `n__${i}`,
    status: i % 2 ? TaskStatus.COMPLETED : TaskStatus.SCHEDULED,
    inputJson: JSON.stringify({ i, text: "é€😀".repeat(i % 7), big: 12345678901234567890n.toString() }),
    outputJson: i % 3 ? "{}" : "",
    iteration: i,
    scheduledTimeMs: BigInt(1_700_000_000_000 + i),
  });

const workflow = (tasks: number) =>
  create(WorkflowSchema, {
    workflowId: "w",
    workflowName: "large",
    workflowVersion: 3,
    status: WorkflowStatus.COMPLETED,
    inputJson: '{"a":1}',
    failedReferenceTaskNames: ["x", "y"],
    createTimeMs: 1n,
    tasks: Array.from({ length: tasks }, (_, i) => task(i)),
    workflowDefinitionJson: '{"name":"large"}',
    failedTaskId: "t1",
    route: { routeRevision: 4n, weight: 50, reason: "weight" },
  });

describe("encodedInSlices", () => {
  it("encodes a run of thousands of tasks as toBinary does, byte for byte", async () => {
    const reply = create(GetWorkflowResponseSchema, { workflow: workflow(3_000) });
    const sliced = await encodedInSlices(GetWorkflowResponseSchema, reply);
    assert.notEqual(sliced, reply);
    const bytes = toBinary(GetWorkflowResponseSchema, sliced);
    assert.deepEqual(bytes, toBinary(GetWorkflowResponseSchema, reply));
    assert.deepEqual(fromBinary(GetWorkflowResponseSchema, bytes), reply);
  });

  it("does so for a list at the top (a page of runs) and for an init shape", async () => {
    const page = { workflows: Array.from({ length: 500 }, () => workflow(0)), nextPageToken: "next" };
    const sliced = await encodedInSlices(SearchWorkflowsResponseSchema, page);
    assert.deepEqual(toBinary(SearchWorkflowsResponseSchema, sliced), toBinary(SearchWorkflowsResponseSchema, create(SearchWorkflowsResponseSchema, page)));
  });

  it("leaves a small reply as it is", async () => {
    const reply = create(GetWorkflowResponseSchema, { workflow: workflow(10) });
    assert.equal(await encodedInSlices(GetWorkflowResponseSchema, reply), reply);
  });

  it("gives the event loop back while it encodes", async () => {
    let turns = 0;
    const timer = setInterval(() => turns++, 0);
    try {
      const reply = create(GetWorkflowResponseSchema, { workflow: workflow(20_000) });
      await encodedInSlices(GetWorkflowResponseSchema, reply);
    } finally {
      clearInterval(timer);
    }
    assert.ok(turns > 0, "no timer ran while 20,000 tasks were encoded");
  });
});
