// A definition is refused when it is published if the server could not run
// what it writes (issue 14, points 1 and 2): a JSONPath filter using what the
// bounded evaluator refuses, an inputSchema whose pattern RE2 refuses. Before,
// such a filter read as missing in every run, with nothing said, and such a
// schema was registered and then refused every start.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { grpc } from "@baton/protocol";
import { startHarness, type Harness } from "../support/harness.js";
import { startSecureServer, type SecureServer } from "./support.js";
import { flowOf } from "../support/flows.js";

const refused = async (p: Promise<unknown>): Promise<{ code: number; details: string }> =>
  p.then(
    () => assert.fail("expected a refusal"),
    (e: { code: number; details: string }) => e,
  );

const flow = (name: string, extra: object, input: object = {}) => ({
  ...flowOf(name, [{ name: "noop", taskReferenceName: "noop", type: "NOOP", inputParameters: input }]),
  ...extra,
});

describe("publish-time checks", () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ manualClock: false });
  });
  after(() => h.close());

  it("refuses a filter whose pattern RE2 cannot run, naming it and what to use", async () => {
    const def = flow("filter_lookahead", {}, { hits: "${workflow.input.items[?(@.s.match(/(?=a)a/))]}" });
    const e = await refused(h.client.registerWorkflowDef(def));
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
    assert.match(
      e.details,
      /\/tasks\/0\/inputParameters\/hits: \$\{workflow\.input\.items\[\?\(@\.s\.match\(\/\(\?=a\)a\/\)\)\]\}: the regular expression \/\(\?=a\)a\/ is not supported .*no lookaround, no backreferences/,
    );
    const validated = await h.client.validateWorkflowDef(def);
    assert.equal(validated.valid, false);
    assert.match(validated.errors[0]?.message ?? "", /not supported/);
    // A start with the definition inline is refused the same way.
    const inline = await refused(h.client.workflows.startWorkflow({ name: def.name, inputJson: "{}", definitionJson: JSON.stringify(def) }));
    assert.match(inline.details, /invalid inline definition: .*the regular expression \/\(\?=a\)a\/ is not supported/);
  });

  it("refuses a filter reading its pattern from data, or calling a method it does not offer", async () => {
    const e = await refused(h.client.registerWorkflowDef(flow("filter_data_pattern", {}, { hits: "${workflow.input.items[?(@.s.match(@root.p))]}" })));
    assert.match(e.details, /match\(\) takes a pattern written in the filter/);
    const m = await refused(h.client.registerWorkflowDef(flow("filter_repeat", {}, { hits: "${workflow.input.items[?(@.s.repeat(9))]}" })));
    assert.match(m.details, /calling repeat is not supported in a filter; the methods a filter may call are/);
  });

  it("publishes and runs the usual filters as before", async () => {
    const def = flow(
      "filter_usual",
      { outputParameters: { picked: "${noop.input.picked}" } },
      { picked: "${workflow.input.items[?(@.kind == 'y' && @.n > 1 || @.s.match(/^z+$/))].id}" },
    );
    await h.client.registerWorkflowDef(def);
    const items = [
      { id: 1, kind: "y", n: 2, s: "a" },
      { id: 2, kind: "y", n: 0, s: "zz" },
      { id: 3, kind: "x", n: 5, s: "b" },
    ];
    const run = await h.client.executeWorkflow("filter_usual", { items });
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.output, { picked: [1, 2] });
  });

  it("refuses an inputSchema pattern RE2 refuses when it is published, not at every start", async () => {
    const schema = (pattern: string) => ({
      inputSchema: { name: "s", type: "JSON", data: { type: "object", properties: { s: { type: "string", pattern } }, patternProperties: { "^x": {} } } },
    });
    const e = await refused(h.client.registerWorkflowDef(flow("schema_lookbehind", schema("(?<=a)b"))));
    assert.equal(e.code, grpc.status.INVALID_ARGUMENT);
    assert.match(
      e.details,
      /\/inputSchema\/data: the inputSchema is not a valid JSON Schema: the pattern "\(\?<=a\)b" is not supported \(.*\): input schema patterns match on RE2: no lookaround, no backreferences/,
    );
    const keys = await refused(
      h.client.registerWorkflowDef(
        flow("schema_backref", { inputSchema: { name: "s", type: "JSON", data: { type: "object", patternProperties: { "(a)\\1": { type: "string" } } } } }),
      ),
    );
    assert.match(keys.details, /the pattern "\(a\)\\\\1" is not supported/);
    // Not enforced: never compiled, so never refused (Conductor's meaning of enforceSchema: false).
    await h.client.registerWorkflowDef(flow("schema_not_enforced", { ...schema("(?<=a)b"), enforceSchema: false }));
    await h.client.registerWorkflowDef(flow("schema_ok", schema("^a+$")));
    assert.equal((await h.client.executeWorkflow("schema_ok", { s: "aa" })).status, "COMPLETED");
  });
});

describe("publish-time path checks: one budget per key", () => {
  // A path's limit far under the slow filter's cost (about 2 s), and a key's budget of two and a half of them.
  let s: SecureServer;
  before(async () => {
    s = await startSecureServer({ queryLimits: { pathMs: 400, publishMs: 1_000 } });
  });
  after(() => s.close());

  /** A filter whose pattern is an alternation of 130,000 words: checking it takes seconds of CPU. */
  const slow = `\${workflow.input.items[?(@.s.match(/^(${Array.from({ length: 130_000 }, (_, i) => `w${i}`).join("|")})$/))]}`;
  const unchecked = /: not checked: /g;

  it("parallel publishes of one key draw on its one budget; another key's publish has its own", async () => {
    const [one, other] = await Promise.all([s.clientWithNewKey({ role: "publisher", name: "one" }), s.clientWithNewKey({ role: "publisher", name: "other" })]);
    const publish = (client: typeof one, name: string) => refused(client.registerWorkflowDef(flow(name, {}, { a: slow, b: slow })));
    // Before, each publish had its own 1,000 ms: each checked one path to its limit and left one unchecked (3 of 6).
    const three = await Promise.all([publish(one, "slow_1"), publish(one, "slow_2"), publish(one, "slow_3")]);
    const left = three.reduce((n, e) => n + (e.details.match(unchecked)?.length ?? 0), 0);
    assert.ok(left >= 5, `${left} of the 6 paths left unchecked: ${three.map((e) => e.details.slice(-300)).join(" | ")}`);
    assert.match(three[0]!.details, /not checked: this key's publishes took all of the 1000 ms their path checks may take \(given back over 60 s\)/);
    const theirs = await publish(other, "slow_4");
    assert.equal(theirs.code, grpc.status.INVALID_ARGUMENT);
    assert.match(theirs.details, /split it into smaller filters/, "the other key's paths were checked");
  });
});
