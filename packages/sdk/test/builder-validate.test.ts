// Each builder rule: its code, the JSON pointer, and the source line of the builder call.
import assert from "node:assert/strict";
import { test } from "node:test";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { formatDiagnostic, taskType, workflow, type Diagnostic } from "../src/index.js";

const file = fileURLToPath(import.meta.url);
const source = readFileSync(file, "utf8").split("\n");
/** The line holding the marker comment `// <- name`, where a diagnostic must point. */
function lineOf(name: string): number {
  const i = source.findIndex((l) => l.endsWith(`// <- ${name}`));
  assert.ok(i >= 0, `marker ${name}`);
  return i + 1;
}
const t = taskType<{ x: string }, { y: string; n: number }>("t");
const codes = (ds: Diagnostic[]) => ds.map((d) => d.code);

function only(ds: Diagnostic[], code: string): Diagnostic {
  const found = ds.filter((d) => d.code === code);
  assert.equal(found.length, 1, `one ${code} in ${JSON.stringify(ds)}`);
  return found[0]!;
}
function assertAt(d: Diagnostic, expectedLine: number): void {
  assert.equal(d.location?.file, file);
  assert.equal(d.location?.line, expectedLine);
  assert.ok((d.location?.column ?? 0) > 0);
}

test("BATON101: duplicate reference names, at the second step", () => {
  const flow = workflow("dup").steps(() => {
    t.step("a", { x: "1" });
    t.step("a", { x: "2" }); // <- dup
  });
  const d = only(flow.validate(), "BATON101");
  assert.equal(d.path, "/tasks/1/taskReferenceName");
  assertAt(d, lineOf("dup"));
  assert.equal(formatDiagnostic(d), `${file}:${lineOf("dup")}:${d.location?.column} - error BATON101: ${d.message}`);
});

test("BATON101: a derived name that collides with a later explicit one", () => {
  const flow = workflow("dup2").steps(() => {
    t.step({ x: "1" }); // derives "t"
    t.step("t", { x: "2" });
  });
  assert.deepEqual(codes(flow.validate()), ["BATON101"]);
});

test("BATON102: an expression naming a step that is not in the flow", () => {
  const outside = t.step("outside", { x: "1" });
  const flow = workflow("unknown").steps(() => {
    t.step("reader", { x: outside.output.y }); // <- unknown
  });
  const d = only(flow.validate(), "BATON102");
  assert.equal(d.path, "/tasks/0/inputParameters/x");
  assertAt(d, lineOf("unknown"));
});

test("BATON103: reading a switch case's output after a switch with no default", () => {
  const flow = workflow("after_switch")
    .input<{ k: "a" | "b" }>()
    .steps((wf) => {
      const inCase = t.step("in_case", { x: "1" });
      wf.switch({ value: wf.input.k, cases: { a: [inCase] } });
      t.step("after", { x: inCase.output.y }); // <- after switch
    });
  const d = only(flow.validate(), "BATON103");
  assert.equal(d.path, "/tasks/1/inputParameters/x");
  assertAt(d, lineOf("after switch"));
});

test("BATON103: not reported when the step runs before the switch, or the other case ends the flow", () => {
  const flow = workflow("all_cases")
    .input<{ k: "a" | "b" }>()
    .steps((wf) => {
      const before = t.step("before", { x: "1" });
      const both = t.step("in_b", { x: "2" });
      wf.switch({ value: wf.input.k, cases: { a: () => wf.terminate({ status: "FAILED" }) }, default: [both] });
      t.step("after", { x: before.output.y });
      t.step("after_2", { x: both.output.y });
    });
  assert.deepEqual(flow.validate(), []);
});

test("BATON103: reading a fork branch's output before the join, or from another branch", () => {
  const flow = workflow("fork_reads").steps((wf) => {
    const a = t.step("a", { x: "1" });
    t.step("early", { x: a.output.y }); // <- before join
    const b = t.step("b", { x: a.output.y }); // <- other branch
    wf.fork({ branches: [[a], [b]] });
    t.step("after_join", { x: a.output.y });
  });
  const ds = flow.validate();
  assert.deepEqual(codes(ds), ["BATON103", "BATON103"]);
  assert.deepEqual(
    ds.map((d) => d.path),
    ["/tasks/0/inputParameters/x", "/tasks/1/forkTasks/1/0/inputParameters/x"],
  );
  assertAt(ds[0]!, lineOf("before join"));
  assertAt(ds[1]!, lineOf("other branch"));
});

test("BATON103: the flow's output reading a step that may not have run", () => {
  // The marker must stay on the line of .steps, where the diagnostic points.
  // prettier-ignore
  const flow = workflow("output").input<{ k: string }>().steps((wf) => { // <- output
    const maybe = t.step("maybe", { x: "1" });
    wf.switch({ value: wf.input.k, cases: { yes: [maybe] } });
    return { y: maybe.output.y };
  });
  const d = only(flow.validate(), "BATON103");
  assert.equal(d.path, "/outputParameters/y");
  assertAt(d, lineOf("output"));
});

test("BATON104: a JOIN waiting on a step that is not a branch tail", () => {
  const flow = workflow("join_tail").steps((wf) => {
    const head = t.step("head", { x: "1" });
    const tail = t.step("tail", { x: head.output.y });
    wf.fork({ branches: [[head, tail], [t.step("other", { x: "2" })]], joinOn: [head] }); // <- join
  });
  const d = only(flow.validate(), "BATON104");
  assert.equal(d.path, "/tasks/1/joinOn/0");
  assertAt(d, lineOf("join"));
});

test("BATON105: a fork with an empty branch, a fork with none, a loop with no body", () => {
  const flow = workflow("empty").steps((wf) => {
    wf.fork({ branches: [[t.step("a", { x: "1" })], []] }); // <- empty branch
    wf.fork({ ref: "none", branches: [] }); // <- no branches
    wf.loop({ body: [], times: 2 }); // <- empty loop
  });
  const ds = flow.validate();
  assert.deepEqual(codes(ds), ["BATON105", "BATON105", "BATON105"]);
  assert.deepEqual(
    ds.map((d) => d.path),
    ["/tasks/0/forkTasks/1", "/tasks/2", "/tasks/4"],
  );
  ["empty branch", "no branches", "empty loop"].forEach((m, i) => assertAt(ds[i]!, lineOf(m)));
});

test("BATON106: a worker task named by string with no task definition", () => {
  const build = () =>
    workflow("raw").steps((wf) => {
      wf.task<{ q: number }>("legacy_worker", { q: 1 }); // <- raw
      wf.task("inline_def", {}, { taskDefinition: { name: "inline_def", retryCount: 0 } });
    });
  const d = only(build().validate(), "BATON106");
  assert.equal(d.path, "/tasks/0/name");
  assertAt(d, lineOf("raw"));
  assert.deepEqual(build().validate({ hasTaskDef: (n) => n === "legacy_worker" }), []);
});

test("BATON107: one step placed in two branches", () => {
  const flow = workflow("twice").steps((wf) => {
    const s = t.step("s", { x: "1" });
    wf.fork({ branches: [[s], [s, t.step("z", { x: "2" })]] }); // <- twice
  });
  assertAt(only(flow.validate(), "BATON107"), lineOf("twice"));
});

test("BATON108: a body that throws is reported, not thrown", () => {
  const flow = workflow("throws").steps(() => {
    t.step("before", { x: "1" });
    throw new Error("boom"); // <- throws
  });
  const d = only(flow.validate(), "BATON108");
  assert.match(d.message, /boom/);
  assertAt(d, lineOf("throws"));
  assert.equal(flow.toJSON().tasks.length, 0);
});

test("BATON100: Conductor's own rules still apply", () => {
  const bad = workflow("bad_email", { ownerEmail: "not an email" }).steps((wf) => {
    wf.noop();
  });
  const d = only(bad.validate(), "BATON100");
  assert.equal(d.path, "/ownerEmail");
});

test("BATON109: two task types under one name with different settings", () => {
  const a = taskType<{ x: string }>("same", { retryCount: 1 });
  const b = taskType<{ x: string }>("same", { retryCount: 2 });
  const flow = workflow("conflict").steps(() => {
    a.step({ x: "1" });
    b.step({ x: "2" });
  });
  assert.deepEqual(codes(flow.validate()), ["BATON109"]);
});
