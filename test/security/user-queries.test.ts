// JSON Schemas and JSONPath filters written in definitions run in the queries
// pool, never on the thread that serves calls (issue 14, point 2): a schema or
// a filter costing seconds leaves /healthz answering. Before, ajv checked a
// start's input and the decider read filters on that thread: the 1 KB schema
// below held it for about 16 s, and the filters below for seconds.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { pollHealth } from "../faults/lib/hostile.js";
import type { BatonClient } from "@baton/client";
import { heavyParameters, HEAVY_ITEMS } from "../support/heavy-filters.js";
import { codeOf, startSecureServer, type SecureServer } from "./support.js";
import { flowOf } from "../support/flows.js";

/** The longest /healthz may wait while the probe runs (the machine is shared: generous, far under the seconds it took before). */
const HEALTH_MAX_MS = 1_500;

/** Nested anyOf through $ref, `depth` levels: a small schema whose check of a non-matching value takes 2^depth steps (ajv collects every error). */
// At depth 20 a quiet 2-core machine finished the check in 4.5 s, inside the 5 s limit; at 23 it takes about 8 times that.
function exponentialSchema(depth: number): Record<string, unknown> {
  const definitions: Record<string, unknown> = {};
  for (let i = 0; i < depth; i++) definitions[`l${i}`] = { anyOf: [{ $ref: `#/definitions/l${i + 1}` }, { $ref: `#/definitions/l${i + 1}` }] };
  definitions[`l${depth}`] = { type: "string" };
  return { type: "object", properties: { a: { $ref: "#/definitions/l0" } }, definitions };
}

/** A run's end (polling its state; the run's clock is the test's manual one, which nothing here needs to move). */
async function ended(client: BatonClient, id: string): Promise<Awaited<ReturnType<BatonClient["getWorkflow"]>>> {
  for (;;) {
    const run = await client.getWorkflow(id);
    if (run.status !== "RUNNING") return run;
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe("user queries off the serving thread", () => {
  let s: SecureServer;
  let publisher: string;
  let operator: string;
  let health: ReturnType<typeof pollHealth> | undefined;

  before(async () => {
    s = await startSecureServer({ metrics: { port: 0 } });
    publisher = (await s.registry.create({ role: "publisher", taskTypes: [], name: "publisher" })).key;
    operator = (await s.registry.create({ role: "operator", taskTypes: [], name: "operator" })).key;
  });
  after(async () => {
    await health?.stop();
    await s.close();
  });

  /** Runs `probe` while /healthz is polled; the slowest answer in ms. */
  async function slowestHealthDuring(probe: () => Promise<void>): Promise<number> {
    health = pollHealth(`http://${s.server.metricsAddress}/healthz`);
    await new Promise((r) => setTimeout(r, 100));
    await probe();
    const latencies = await health.stop();
    health = undefined;
    assert.ok(latencies.length > 0, "/healthz was polled");
    return Math.max(...latencies);
  }

  it("a start whose input takes seconds to check against its inputSchema is refused at the pool's limits, and /healthz keeps answering", async () => {
    const flow = {
      ...flowOf("exponential_schema", [{ name: "noop", taskReferenceName: "noop", type: "NOOP" }]),
      inputSchema: { name: "s", type: "JSON", data: exponentialSchema(23) },
      enforceSchema: true,
    };
    assert.equal(await codeOf(s.client(publisher).metadata.registerWorkflowDef({ definitionJson: JSON.stringify(flow) })), "OK");
    let refusal = "";
    const slowest = await slowestHealthDuring(async () => {
      refusal = await s
        .client(operator)
        .workflows.startWorkflow({ name: "exponential_schema", inputJson: JSON.stringify({ a: 1 }) })
        .then(
          () => "started",
          (e: { details: string }) => e.details,
        );
    });
    // Stopped at its CPU time, or (as its errors pile up) at its thread's 512 MB heap: V8 collects that
    // garbage on threads of its own, whose CPU time the check is not charged for.
    assert.match(
      refusal,
      /could not check the input against its inputSchema \(checking the input against the JSON Schema ((used more than|was still running after 50000 ms by the wall clock, short of) its 5000 ms of CPU time.* and was stopped|failed: Worker terminated due to reaching memory limit: JS heap out of memory)\)/,
    );
    assert.ok(slowest < HEALTH_MAX_MS, `/healthz waited ${slowest.toFixed(0)} ms while the schema was checked`);
    // A matching input is checked as before.
    const ok = await s.client(operator).workflows.startWorkflow({ name: "exponential_schema", inputJson: JSON.stringify({ a: "text" }) });
    assert.ok(ok.workflowId);
  });

  it("a task whose inputParameters read heavy filters waits for them from the pool, and /healthz keeps answering", async () => {
    const flow = flowOf("heavy_filters", [
      {
        name: "noop",
        taskReferenceName: "read",
        type: "NOOP",
        inputParameters: { hits: "${workflow.input.items[?(@.k == 'y')].id}", plain: "${workflow.input.items[0].id}", ...heavyParameters(10) },
      },
    ]);
    assert.equal(await codeOf(s.client(publisher).metadata.registerWorkflowDef({ definitionJson: JSON.stringify(flow) })), "OK");
    const client = s.client(operator);
    let id = "";
    const slowest = await slowestHealthDuring(async () => {
      id = await client.startWorkflow("heavy_filters", {
        items: [
          { k: "x", id: "a" },
          { k: "y", id: "b" },
        ],
        heavy: HEAVY_ITEMS,
      });
      await ended(client, id);
    });
    const run = await ended(client, id);
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    const input = run.tasks.find((t) => t.referenceTaskName === "read")!.inputData as Record<string, unknown>;
    assert.deepEqual(input["hits"], ["b"]);
    assert.equal(input["plain"], "a");
    assert.equal(input["heavy0"], null, "a filter over its step budget reads as missing, as before");
    assert.ok(slowest < HEALTH_MAX_MS, `/healthz waited ${slowest.toFixed(0)} ms while the filters were read`);
  });

  it("a run whose outputParameters read heavy filters over a large array completes with the right output, and /healthz answers while they are read", async () => {
    const flow = flowOf("heavy_output", [{ name: "gate", taskReferenceName: "gate", type: "HUMAN" }], {
      hits: "${workflow.input.items[?(@.k == 'y')].id}",
      plain: "${workflow.input.items[0].id}",
      ...heavyParameters(10),
    });
    assert.equal(await codeOf(s.client(publisher).metadata.registerWorkflowDef({ definitionJson: JSON.stringify(flow) })), "OK");
    const client = s.client(operator);
    const id = await client.startWorkflow("heavy_output", {
      items: [
        { k: "x", id: "a" },
        { k: "y", id: "b" },
      ],
      heavy: HEAVY_ITEMS,
    });
    // Answered once the run's end is decided (the caller waits for what its event caused): not awaited.
    const signal = client.signalTask(id, { taskReferenceName: "gate" }).catch(() => undefined);
    // While the run waits for its output (its task ended, itself still RUNNING for Conductor's readers), /healthz answers.
    let answeredWhileWaiting = 0;
    for (;;) {
      const run = await client.getWorkflow(id);
      if (run.status !== "RUNNING") break;
      if (run.tasks.length > 0 && run.tasks.every((t) => t.status === "COMPLETED")) {
        assert.deepEqual(run.output, {}, "no output before it is known");
        const health = await fetch(`http://${s.server.metricsAddress}/healthz`);
        assert.equal(health.status, 200);
        if ((await client.getWorkflow(id)).status === "RUNNING") answeredWhileWaiting++;
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.ok(answeredWhileWaiting > 0, "/healthz answered while the run's output was read");
    await signal;
    const run = await ended(client, id);
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    const output = run.output as Record<string, unknown>;
    assert.deepEqual(output["hits"], ["b"]);
    assert.equal(output["plain"], "a");
    assert.equal(output["heavy0"], null, "a filter over its step budget reads as missing");
  });

  it("a failure workflow named by a filter over the run's input is the one started when the run fails", async () => {
    const cleanup = flowOf("cleanup_flow", [{ name: "noop", taskReferenceName: "noop", type: "NOOP" }]);
    const failing = {
      ...flowOf("fails_to_named_cleanup", [
        { name: "end", taskReferenceName: "end", type: "TERMINATE", inputParameters: { terminationStatus: "FAILED", terminationReason: "on purpose" } },
      ]),
      failureWorkflow: "${workflow.input.handlers[?(@.on == 'fail')].name}",
    };
    for (const def of [cleanup, failing])
      assert.equal(await codeOf(s.client(publisher).metadata.registerWorkflowDef({ definitionJson: JSON.stringify(def) })), "OK");
    const client = s.client(operator);
    const id = await client.startWorkflow("fails_to_named_cleanup", {
      handlers: [
        { on: "ok", name: "not_this_one" },
        { on: "fail", name: "cleanup_flow" },
      ],
    });
    const run = await ended(client, id);
    assert.equal(run.status, "FAILED");
    const failureRunId = (run.output as Record<string, unknown>)["conductor.failure_workflow"];
    assert.equal(typeof failureRunId, "string", "a failure workflow was started");
    const failureRun = await ended(client, failureRunId as string);
    assert.equal(failureRun.workflowName, "cleanup_flow");
    assert.equal(failureRun.status, "COMPLETED");
    assert.equal((failureRun.input as Record<string, unknown>)["workflowId"], id);
  });

  it("a definition of thousands of filters is checked at publish in the queries pool: /healthz answers meanwhile, and a bad filter among them is still refused by its field", async () => {
    // Parsing each and compiling its pattern on RE2 held the serving thread about 2.5 ms per filter (3,000: seconds).
    const inputParameters: Record<string, string> = {};
    for (let i = 0; i < 3_000; i++) inputParameters[`p${i}`] = `\${workflow.input.items[?(@.s.match(/^a${i}+$/) && @.n > ${i})].id}`;
    const flow = (name: string, extra: Record<string, string> = {}) =>
      flowOf(name, [{ name: "noop", taskReferenceName: "noop", type: "NOOP", inputParameters: { ...inputParameters, ...extra } }]);
    const publish = (def: object) => s.client(publisher).metadata.registerWorkflowDef({ definitionJson: JSON.stringify(def) });
    const published = publish(flow("many_filters")).then(() => "published" as const);
    await new Promise((r) => setTimeout(r, 200));
    const health = fetch(`http://${s.server.metricsAddress}/healthz`).then((r) => (r.status === 200 ? ("healthz" as const) : ("unhealthy" as const)));
    assert.equal(await Promise.race([published, health]), "healthz", "/healthz answered while the filters were checked");
    assert.equal(await published, "published");
    const details = await publish(flow("many_filters_one_bad", { bad: "${workflow.input.items[?(@.s.match(/(?=a)a/))]}" })).then(
      () => "",
      (e: { details: string }) => e.details,
    );
    assert.match(details, /\/tasks\/0\/inputParameters\/bad: .*the regular expression \/\(\?=a\)a\/ is not supported/);
  });
});
