// No refusal or stored reason carries megabytes of what a caller sent (issue
// 14): a value, a name, a path, an expression, a schema's problem, a script's
// or jq's error text is quoted by its start (@baton/json's quoted/shortened),
// and what leaves the server (a gRPC status, a REST error body) or is stored
// as a reason is cut at a few thousand characters whatever made it. Before,
// each case below answered or stored the megabyte it was given (and a gRPC
// status that large, sent in a header, dropped the call).
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startRestHarness, startToEnd, type Harness } from "../support/harness.js";

/** A hostile value: a megabyte. */
const BIG = 1_000_000;
/** A refusal quoting user data stays under this (each quoted value is its first 200 characters). */
const SHORT = 3_000;
/** A stored reason stays under this (it may quote what a script or worker said, to 4,000 characters). */
const REASON = 4_100;

const refusal = async (p: Promise<unknown>): Promise<string> =>
  p.then(
    () => assert.fail("expected a refusal"),
    (e: { details?: string; message?: string }) => e.details ?? e.message ?? "",
  );

const flow = (name: string, tasks: object[], extra: object = {}) => ({ name, version: 1, schemaVersion: 2, tasks, ...extra });
const noop = (ref: string, inputParameters: object = {}) => ({ name: "noop", taskReferenceName: ref, type: "NOOP", inputParameters });

describe("error text built from user data is short", () => {
  let h: Harness & { rest: string };
  before(async () => {
    h = await startRestHarness();
  });
  after(() => h.close());

  it("a definition's problems quote names, references and paths by their start, and list at most twenty", async () => {
    const name = "r".repeat(BIG);
    const duplicate = await refusal(h.client.registerWorkflowDef(flow("dup_ref", [noop(name), noop(name)])));
    assert.match(duplicate, /duplicate taskReferenceName "r{200}"… \(999800 more\)/);
    assert.ok(duplicate.length < SHORT, `${duplicate.length} characters`);

    const warned = await h.client.validateWorkflowDef(flow("missing_ref", [noop("a", { x: `\${${"m".repeat(BIG)}.output.x}` })]));
    assert.match(warned.warnings[0]?.message ?? "", /^"\$\{m{198}"… \(\d+ more\) names task "m{200}"… \(999800 more\), which is not in this workflow/);

    const key = await refusal(h.client.registerWorkflowDef(flow("long_key", [{ name: "s", taskReferenceName: "s", type: "SWITCH", [name]: 1 }])));
    assert.ok(key.length < SHORT, `${key.length} characters`);

    const many = await refusal(
      h.client.registerWorkflowDef(
        flow(
          "many_problems",
          Array.from({ length: 5_000 }, (_, i) => ({ name: "t", taskReferenceName: `t${i}`, type: "TERMINATE", inputParameters: {} })),
        ),
      ),
    );
    assert.match(many, /\(5000 errors\).*; and 4980 more$/);
    assert.ok(many.length < SHORT, `${many.length} characters`);
  });

  it("a filter's problem quotes the start of its expression", async () => {
    const e = await refusal(
      h.client.registerWorkflowDef(flow("long_filter", [noop("a", { x: `\${workflow.input.items[?('${"q".repeat(BIG)}' == @.t || @.s.repeat(9))]}` })])),
    );
    assert.match(e, /calling repeat is not supported in a filter/);
    assert.ok(e.length < SHORT, `${e.length} characters`);
  });

  it("an inputSchema's problems, at publish and at a start, quote the schema and the input by their start", async () => {
    const schema = (data: object) => ({ name: "s", type: "JSON", data });
    const compile = await refusal(
      h.client.registerWorkflowDef(
        flow("bad_schema", [noop("a")], { inputSchema: schema({ type: "object", properties: { ["p".repeat(BIG)]: { type: "nonsense" } } }) }),
      ),
    );
    assert.ok(compile.length < SHORT, `${compile.length} characters`);
    const pattern = await refusal(
      h.client.registerWorkflowDef(flow("bad_pattern", [noop("a")], { inputSchema: schema({ type: "string", pattern: `(?=a)${"b".repeat(BIG)}` }) })),
    );
    assert.ok(pattern.length < SHORT, `${pattern.length} characters`);

    await h.client.registerWorkflowDef(
      flow("strict_input", [noop("a")], { inputSchema: schema({ type: "object", additionalProperties: { type: "number" } }) }),
    );
    const input = await refusal(h.client.startWorkflow("strict_input", { ["k".repeat(BIG)]: "x" }));
    assert.match(input, /refused the input: input\.k{200}… \(999800 more\) must be number/);
    assert.ok(input.length < SHORT, `${input.length} characters`);
  });

  it("a name nothing answers to is quoted by its start", async () => {
    const e = await refusal(h.client.startWorkflow("n".repeat(BIG), {}));
    assert.match(e, /^no workflow definition n{200}… \(999800 more\)$/);
    assert.ok(e.length < SHORT, `${e.length} characters`);
  });

  it("a script's, jq's and an operator's megabyte of error text is stored and returned as its start", async () => {
    await h.client.registerWorkflowDef(
      flow("throws", [
        { name: "i", taskReferenceName: "i", type: "INLINE", inputParameters: { evaluatorType: "graaljs", expression: "throw 'e'.repeat(1000000)" } },
      ]),
    );
    const thrown = await startToEnd(h, "throws", {});
    assert.equal(thrown.status, "FAILED");
    assert.ok((thrown.tasks?.[0]?.reasonForIncompletion ?? "").length < REASON, `${thrown.tasks?.[0]?.reasonForIncompletion?.length} characters`);
    assert.match(thrown.tasks?.[0]?.reasonForIncompletion ?? "", /e{100}.*… \(\d+ more\)/);
    assert.ok((thrown.reasonForIncompletion ?? "").length < REASON, `${thrown.reasonForIncompletion?.length} characters`);

    await h.client.registerWorkflowDef(
      flow("jq_error", [
        { name: "j", taskReferenceName: "j", type: "JSON_JQ_TRANSFORM", inputParameters: { s: "${workflow.input.s}", queryExpression: "error(.s)" } },
      ]),
    );
    const jq = await startToEnd(h, "jq_error", { s: "j".repeat(BIG) });
    assert.equal(jq.status, "FAILED");
    assert.ok((jq.tasks?.[0]?.reasonForIncompletion ?? "").length < REASON, `${jq.tasks?.[0]?.reasonForIncompletion?.length} characters`);
    assert.ok((jq.reasonForIncompletion ?? "").length < REASON, `${jq.reasonForIncompletion?.length} characters`);

    await h.client.registerWorkflowDef(flow("waits", [{ name: "w", taskReferenceName: "w", type: "WAIT" }]));
    const id = await h.client.startWorkflow("waits", {});
    await h.client.terminateWorkflow(id, "t".repeat(BIG) + " and so the cause");
    const terminated = await h.client.getWorkflow(id);
    assert.equal(terminated.status, "TERMINATED");
    assert.ok((terminated.reasonForIncompletion ?? "").length < REASON, `${terminated.reasonForIncompletion?.length} characters`);
    // Cut in its middle: a chained reason (each sub-workflow level's "failure reason: ...") ends with its cause.
    assert.match(terminated.reasonForIncompletion ?? "", /^t{100}.* … \(\d+ more\) … t+ and so the cause$/);
  });

  it("REST: a bad body's validation errors and a bad search query quote the start of what was sent", async () => {
    const body = await fetch(`${h.rest}/api/metadata/workflow`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: ["x".repeat(BIG)], tasks: [] }),
    });
    const text = await body.text();
    assert.equal(body.status, 400);
    assert.ok(text.length < SHORT, `${text.length} characters: ${text.slice(0, 300)}`);

    // A URL is at most 16 KB (Node's header limit): the query quotes its start all the same.
    const search = await fetch(`${h.rest}/api/workflow/search?query=${encodeURIComponent(`${"f".repeat(10_000)} = 'x'`)}`);
    const found = await search.text();
    assert.equal(search.status, 400, found.slice(0, 300));
    assert.ok(found.length < SHORT, `${found.length} characters: ${found.slice(0, 300)}`);
  });

  it("an event handler's and a schedule's problems quote what was sent by its start", async () => {
    const handler = await refusal(h.client.registerEventHandler({ name: "h", event: "e", actions: [{ action: "a".repeat(BIG) }] }));
    assert.match(handler, /unknown action "a{200}"… \(999800 more\); expected one of/);
    assert.ok(handler.length < SHORT, `${handler.length} characters`);
    // A cron expression is at most 1,000 characters: a longer one is refused for its length, quoting none of it.
    const long = await refusal(h.client.createSchedule({ name: "s", cronExpression: `0 ${"1".repeat(BIG)} * * * *`, startWorkflowRequest: { name: "w" } }));
    assert.match(long, /cronExpression is 1000010 characters long, over the 1000/);
    assert.ok(long.length < SHORT, `${long.length} characters`);
    const schedule = await refusal(h.client.createSchedule({ name: "s", cronExpression: `0 ${"1".repeat(900)} * * * *`, startWorkflowRequest: { name: "w" } }));
    assert.match(schedule, /invalid cron expression "0 1{198}"… \(710 more\)/);
    assert.ok(schedule.length < SHORT, `${schedule.length} characters`);
  });
});
