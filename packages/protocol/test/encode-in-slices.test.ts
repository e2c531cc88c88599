// A reply encoded in slices is toBinary's encoding byte for byte, and decodes
// to the same message; one going out as JSON is toJsonString's text byte for
// byte; one with few list items is left as it is. The service handlers give
// the event loop back while they encode a long reply, in either form.
import assert from "node:assert/strict";
import { EventEmitter } from "node:events";
import { describe, it } from "node:test";
import { create, fromBinary, toBinary, toJsonString, type DescMessage, type MessageShape } from "@bufbuild/protobuf";
import {
  GetWorkflowResponseSchema,
  REPLY_AS_JSON,
  SearchWorkflowsRequestSchema,
  SearchWorkflowsResponseSchema,
  TaskSchema,
  TaskStatus,
  WorkflowSchema,
  WorkflowService,
  WorkflowStatus,
  encodedInSlices,
  grpc,
  jsonEncodedInSlices,
  serviceHandlers,
  slicedJsonEncoder,
  type ServiceImpl,
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

/** What Connect does with a JSON reply: toJsonString, then its textEncoder (the console's is slicedJsonEncoder). */
const connectJson = <Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>) => slicedJsonEncoder.encode(toJsonString(schema, message));
const jsonBytes = <Desc extends DescMessage>(schema: Desc, message: MessageShape<Desc>) => new TextEncoder().encode(toJsonString(schema, message));

describe("jsonEncodedInSlices", () => {
  it("writes a run of thousands of tasks as toJsonString does, byte for byte, once", async () => {
    const reply = create(GetWorkflowResponseSchema, { workflow: workflow(3_000) });
    const standIn = await jsonEncodedInSlices(GetWorkflowResponseSchema, reply);
    assert.notEqual(standIn, reply);
    assert.deepEqual(connectJson(GetWorkflowResponseSchema, standIn), jsonBytes(GetWorkflowResponseSchema, reply));
    // Its bytes are handed out once: the stand-in's text a second time is only that text.
    assert.deepEqual(connectJson(GetWorkflowResponseSchema, standIn), jsonBytes(GetWorkflowResponseSchema, standIn));
  });

  it("does so for a page of runs, one of them with thousands of tasks, and for an init shape", async () => {
    const page = { workflows: [...Array.from({ length: 300 }, () => workflow(1)), workflow(2_000), workflow(0)], nextPageToken: "next" };
    const standIn = await jsonEncodedInSlices(SearchWorkflowsResponseSchema, page);
    assert.deepEqual(
      connectJson(SearchWorkflowsResponseSchema, standIn),
      jsonBytes(SearchWorkflowsResponseSchema, create(SearchWorkflowsResponseSchema, page)),
    );
  });

  it("leaves a small reply as it is", async () => {
    const reply = create(GetWorkflowResponseSchema, { workflow: workflow(10) });
    assert.equal(await jsonEncodedInSlices(GetWorkflowResponseSchema, reply), reply);
  });

  it("encodes any other text as a TextEncoder does", () => {
    assert.deepEqual(slicedJsonEncoder.encode('{"a":"é€😀"}'), new TextEncoder().encode('{"a":"é€😀"}'));
  });
});

describe("a reply going out", () => {
  const page = { workflows: [workflow(20_000)], nextPageToken: "" };
  /** Calls the handler as a Connect call would; how many timer turns ran from its answer to the reply, and the reply. */
  const reply = async (asJson: boolean) => {
    // Every method answers the page; only SearchWorkflows is called.
    const impl = new Proxy({}, { get: () => async () => page }) as ServiceImpl<typeof WorkflowService>;
    const handlers = serviceHandlers(WorkflowService, impl);
    const call = Object.assign(new EventEmitter(), { request: create(SearchWorkflowsRequestSchema), metadata: new grpc.Metadata(), [REPLY_AS_JSON]: asJson });
    let turns = 0;
    const timer = setInterval(() => turns++, 0);
    try {
      const sent = await new Promise<unknown>((resolve, reject) =>
        (handlers["searchWorkflows"] as grpc.handleUnaryCall<unknown, unknown>)(call as never, (error, value) => (error ? reject(error) : resolve(value))),
      );
      return { turns, sent: sent as MessageShape<typeof SearchWorkflowsResponseSchema> };
    } finally {
      clearInterval(timer);
    }
  };

  it("as JSON, a run of 20,000 tasks is written across turns of the event loop, as Connect then sends it", async () => {
    const { turns, sent } = await reply(true);
    assert.ok(turns > 0, "no timer ran while 20,000 tasks were written as JSON");
    assert.deepEqual(connectJson(SearchWorkflowsResponseSchema, sent), jsonBytes(SearchWorkflowsResponseSchema, create(SearchWorkflowsResponseSchema, page)));
  });

  it("in binary, a page whose one run has 20,000 tasks is encoded across turns, as toBinary would", async () => {
    const { turns, sent } = await reply(false);
    assert.ok(turns > 0, "no timer ran while a run of 20,000 tasks was encoded");
    assert.deepEqual(toBinary(SearchWorkflowsResponseSchema, sent), toBinary(SearchWorkflowsResponseSchema, create(SearchWorkflowsResponseSchema, page)));
  });
});
