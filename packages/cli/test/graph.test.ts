// baton graph: Mermaid for forks, switch cases and loops; a run's path
// marked and the branches not taken dimmed. Also the publish diff.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { toMermaid } from "../src/graph/mermaid.js";
import { unifiedDiff } from "../src/defs/diff.js";
import { baton, ensureBuilt, removeDir, tempProject } from "./support.js";

const task = (ref: string, extra: Record<string, unknown> = {}) => ({ name: ref, taskReferenceName: ref, type: "SIMPLE", ...extra });

const fulfil = {
  name: "cli_fulfil",
  version: 3,
  schemaVersion: 2,
  tasks: [
    task("reserve"),
    {
      name: "fork",
      taskReferenceName: "fan_out",
      type: "FORK_JOIN",
      forkTasks: [[task("pack"), task("label")], [task("invoice")]],
    },
    { name: "join", taskReferenceName: "fan_in", type: "JOIN", joinOn: ["label", "invoice"] },
    {
      name: "route",
      taskReferenceName: "route",
      type: "SWITCH",
      evaluatorType: "value-param",
      expression: "carrier",
      inputParameters: { carrier: "${workflow.input.carrier}" },
      decisionCases: { ups: [task("ups_pickup")], dhl: [task("dhl_pickup")] },
      defaultCase: [],
    },
    {
      name: "poll",
      taskReferenceName: "poll",
      type: "DO_WHILE",
      loopCondition: "if ($.poll['iteration'] < 3) { true; } else { false; }",
      loopOver: [task("check")],
    },
  ],
};

describe("baton graph", () => {
  let dir: string;
  before(() => {
    ensureBuilt();
    dir = tempProject({ "fulfil.json": JSON.stringify(fulfil, null, 2) });
  });
  after(() => dir && removeDir(dir));

  test("a fork from a JSON file: branches fan out from the fork and meet at the join", async () => {
    const r = await baton(["graph", path.join(dir, "fulfil.json")]);
    assert.equal(r.code, 0, r.stderr);
    const out = r.stdout;
    assert.match(out, /^flowchart TD$/m);
    assert.match(out, /^ {2}start_\(\["cli_fulfil v3"\]\)$/m);
    assert.match(out, /^ {2}t_fan_out\{\{"fan_out<br\/><small>FORK_JOIN<\/small>"\}\}$/m);
    for (const edge of [
      "start_ --> t_reserve",
      "t_reserve --> t_fan_out",
      "t_fan_out --> t_pack",
      "t_pack --> t_label",
      "t_fan_out --> t_invoice",
      "t_label --> t_fan_in",
      "t_invoice --> t_fan_in",
    ]) {
      assert.ok(out.includes(`  ${edge}\n`), `edge ${edge} in\n${out}`);
    }
    assert.ok(out.includes('  t_route -->|"ups"| t_ups_pickup\n'));
    assert.ok(out.includes('  t_route -->|"default"| t_poll\n'));
    assert.match(out, /^ {2}subgraph t_poll__body \["loop poll"\]$/m);
    assert.ok(out.includes('  t_check -.->|"repeat"| t_poll\n'));
    assert.ok(out.includes('  t_poll -->|"done"| end_\n'));

    const md = await baton(["graph", path.join(dir, "fulfil.json"), "--markdown"]);
    assert.match(md.stdout, /^```mermaid\nflowchart TD\n[\s\S]*```\n$/);
  });

  test("a run: status classes, and the branches not taken dimmed", () => {
    const tasks = ["reserve", "fan_out", "pack", "label", "invoice", "fan_in"].map((ref, i) => ({ referenceTaskName: ref, status: "COMPLETED", seq: i + 1 }));
    tasks.push({ referenceTaskName: "route", status: "COMPLETED", seq: 7, outputData: { evaluationResult: ["ups"] } } as never);
    tasks.push({ referenceTaskName: "ups_pickup", status: "FAILED", seq: 8 });
    const out = toMermaid(fulfil, { status: "FAILED", tasks });
    assert.match(out, /^ {2}class start_,t_reserve,t_fan_out,t_pack,t_label,t_invoice,t_fan_in,t_route completed$/m);
    assert.match(out, /^ {2}class t_ups_pickup,end_ failed$/m);
    assert.match(out, /^ {2}class t_dhl_pickup,t_poll,t_check nottaken$/m);
    const edges = out.split("\n").filter((l) => /-->|-\.->/.test(l));
    const dimmed = /linkStyle ([\d,]+) /.exec(out)?.[1]?.split(",").map(Number) ?? [];
    const dimmedEdges = dimmed.map((i) => edges[i]?.trim());
    assert.ok(dimmedEdges.includes('t_route -->|"dhl"| t_dhl_pickup'));
    assert.ok(dimmedEdges.includes('t_route -->|"default"| t_poll'));
    assert.ok(!dimmedEdges.includes('t_route -->|"ups"| t_ups_pickup'));
    assert.ok(!dimmedEdges.includes("t_fan_out --> t_pack"));
  });

  test("several flows in one file need --flow; an unknown target is an error", async () => {
    const many = tempProject({ "many.json": JSON.stringify([fulfil, { ...fulfil, name: "cli_other" }]) });
    const r = await baton(["graph", path.join(many, "many.json")]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /choose one with --flow/);
    const picked = await baton(["graph", path.join(many, "many.json"), "--flow", "cli_other"]);
    assert.equal(picked.code, 0, picked.stderr);
    assert.match(picked.stdout, /cli_other v3/);
    removeDir(many);
  });
});

describe("publish's diff", () => {
  test("a unified diff with context, removals before additions", () => {
    const a = ["{", '  "a": 1,', '  "b": 2,', '  "c": 3,', '  "d": 4,', '  "e": 5,', '  "f": 6,', '  "g": 7', "}"].join("\n");
    const b = a.replace('"d": 4', '"d": 40');
    assert.deepEqual(unifiedDiff(a, b, "server", "local"), [
      "--- server",
      "+++ local",
      "@@ -2,7 +2,7 @@",
      '   "a": 1,',
      '   "b": 2,',
      '   "c": 3,',
      '-  "d": 4,',
      '+  "d": 40,',
      '   "e": 5,',
      '   "f": 6,',
      '   "g": 7',
    ]);
    assert.deepEqual(unifiedDiff(a, a, "x", "y"), []);
  });
});
