// Conductor's `${...}` resolution: typing, interpolation, missing paths,
// JsonPath features, escapes, and the listing used by static checks.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FilterDeferred, compilePath, listExpressions, resolveParameters, resolveValue } from "../../src/expressions/index.js";

const context: Record<string, unknown> = {
  workflow: {
    input: { param1: "p1", num: 42, flag: false, nothing: null, a: { b: { c: "deep" } }, list: [1, 2, 3], key: "param1" },
    output: {},
    variables: { count: 3 },
    workflowId: "wf-1",
    correlationId: "corr-1",
    workflowType: "flow",
    version: 2,
    status: "RUNNING",
  },
  t1: {
    input: {},
    output: {
      op: "done",
      items: [
        { id: "a", price: 5, tags: ["x"] },
        { id: "b", price: 15 },
        { id: "c", price: 1 },
      ],
      "key with space": "spaced",
      "dotted.key": "dotted",
      nested: { list: [{ x: 10 }, { x: 20 }] },
      empty: [],
    },
    status: "COMPLETED",
    taskId: "task-1",
    referenceTaskName: "t1",
    retryCount: 0,
  },
  loopTask: { iteration: 3, output: {} },
};

function resolve(value: unknown, taskId?: string) {
  const missing: string[] = [];
  // Filters included, as the queries pool resolves (the serving thread defers them: see the last describe).
  const result = resolveValue(value, context, { runFilters: true, ...(taskId ? { taskId } : {}), onMissing: (e) => missing.push(e) });
  return { result, missing };
}

describe("whole-string expressions keep the JSON type", () => {
  const cases: [string, unknown][] = [
    ["${workflow.input.param1}", "p1"],
    ["${workflow.input.num}", 42],
    ["${workflow.input.flag}", false],
    ["${workflow.input.nothing}", null],
    ["${workflow.input.a}", { b: { c: "deep" } }],
    ["${workflow.input.a.b.c}", "deep"],
    ["${workflow.input.list}", [1, 2, 3]],
    ["${workflow.variables}", { count: 3 }],
    ["${workflow.workflowId}", "wf-1"],
    ["${workflow.version}", 2],
    ["${t1.output.items[0].id}", "a"],
    ["${t1.output.items[-1].id}", "c"],
    ["${t1.output.nested.list[1].x}", 20],
    ["${t1.status}", "COMPLETED"],
    ["${t1.retryCount}", 0],
    ["${loopTask['iteration']}", 3],
    ["${t1.output['key with space']}", "spaced"],
    ['${t1.output["dotted.key"]}', "dotted"],
    ["${t1.output['items'][1]['price']}", 15],
    ["${$.workflow.input.param1}", "p1"],
    ["${ workflow.input.param1 }", "p1"],
    ["${['workflow']['input']['num']}", 42],
  ];
  for (const [template, expected] of cases) {
    it(template, () => {
      const { result, missing } = resolve(template);
      assert.deepEqual(result, expected);
      assert.deepEqual(missing, []);
    });
  }
});

describe("JsonPath beyond plain paths", () => {
  const cases: [string, unknown][] = [
    ["${t1.output.items[*].id}", ["a", "b", "c"]],
    ["${t1.output.items[?(@.price < 10)].id}", ["a", "c"]],
    ["${t1.output.items[?(@.id == 'b')].price}", [15]],
    ["${t1.output.items[0:2].id}", ["a", "b"]],
    ["${t1.output..x}", [10, 20]],
    ["${t1.output.items[*].missing}", []],
    ["${t1.output.items.length()}", 3],
    ["${t1.output.items[*].price.sum()}", 21],
    ["${t1.output.items[*].price.max()}", 15],
    ["${t1.output.items[*].price.min()}", 1],
    ["${t1.output.items[*].price.avg()}", 7],
    ["${workflow.input.a.keys()}", ["b"]],
    ["${workflow.input.list.first()}", 1],
    ["${workflow.input.list.last()}", 3],
    ["${workflow.input.param1.length()}", 2],
  ];
  for (const [template, expected] of cases) {
    it(template, () => assert.deepEqual(resolve(template).result, expected));
  }

  it("a filter cannot reach the host (safe evaluator, never JS eval)", () => {
    const { result } = resolve("${t1.output.items[?(@.id.constructor.constructor('return process')())]}");
    assert.ok(result === null || (Array.isArray(result) && result.length === 0));
  });
});

describe("missing paths give null and are reported", () => {
  const cases = [
    "workflow.input.absent",
    "workflow.input.a.b.c.d",
    "t9.output.x",
    "t1.output.items[7].id",
    "t1.output.items.id", // a name on an array is not a path in Jayway
    "t1.output.items.length", // nor is an array's length
    "workflow.input.__proto__",
    "workflow.input.constructor",
    "t1.output.empty.first()",
    "t1.output[", // malformed paths read as missing, as Jayway rejects them
    "t1.output[?(@.x",
    "t1.output['op]",
    "t1.output.",
  ];
  for (const path of cases) {
    it(path, () => {
      const { result, missing } = resolve(`\${${path}}`);
      assert.equal(result, null);
      assert.deepEqual(missing, [path]);
    });
  }

  it("embedded missing path reads as 'null', as Conductor's Objects.toString", () => {
    const { result, missing } = resolve("value=${workflow.input.absent}");
    assert.equal(result, "value=null");
    assert.deepEqual(missing, ["workflow.input.absent"]);
  });
});

describe("embedded expressions are interpolated as text", () => {
  const cases: [string, string][] = [
    ["Hello ${workflow.input.param1}!", "Hello p1!"],
    ["${workflow.input.param1}${workflow.input.num}", "p142"],
    ["n=${workflow.input.num} f=${workflow.input.flag} z=${workflow.input.nothing}", "n=42 f=false z=null"],
    ["obj=${workflow.input.a}", 'obj={"b":{"c":"deep"}}'],
    ["len: ${t1.output.items[*].id}", 'len: ["a","b","c"]'],
    ["${workflow.input.list}.length", "[1,2,3].length"],
    ["${workflow.input.param1} ", "p1 "],
    ["id-${CPEWF_TASK_ID}", "id-task-9"],
  ];
  for (const [template, expected] of cases) {
    it(template, () => assert.equal(resolve(template, "task-9").result, expected));
  }
});

describe("Conductor's special cases", () => {
  it("${CPEWF_TASK_ID} is the scheduled task's id", () => {
    assert.equal(resolve("${CPEWF_TASK_ID}", "task-9").result, "task-9");
  });

  it("${CPEWF_TASK_ID} without a task id stays as written", () => {
    assert.equal(resolve("${CPEWF_TASK_ID}").result, "${CPEWF_TASK_ID}");
  });

  it("$${...} escapes a literal ${...}", () => {
    assert.equal(resolve("$${workflow.input.param1}").result, "${workflow.input.param1}");
    assert.equal(resolve("a $${x} b ${workflow.input.param1}").result, "a ${x} b p1");
    assert.equal(resolve("$${").result, "${");
  });

  it("an empty expression is the empty string", () => {
    assert.equal(resolve("${}").result, "");
    assert.equal(resolve("a${  }b").result, "ab");
  });

  it("an unclosed ${ is literal text", () => {
    assert.equal(resolve("cost: ${workflow.input.num").result, "cost: ${workflow.input.num");
  });

  it("expressions nest: the inner one builds the outer path", () => {
    assert.equal(resolve("${workflow.input.${workflow.input.key}}").result, "p1");
  });

  it("text with no expression is unchanged", () => {
    assert.equal(resolve("plain $ text {}").result, "plain $ text {}");
  });

  it("a resolved value is never unescaped or re-resolved", () => {
    const ctx = { workflow: { input: { tricky: "$${x} ${workflow.input.tricky}" } } };
    assert.equal(resolveValue("v: ${workflow.input.tricky}", ctx), "v: $${x} ${workflow.input.tricky}");
  });
});

describe("templates", () => {
  it("resolves nested objects and arrays, passing other leaves through", () => {
    const template = {
      a: "${workflow.input.param1}",
      nested: { list: ["${workflow.input.num}", 7, true, null, { deep: "${t1.output.op}" }], keep: 1.5 },
      "${not.a.key}": "keys are not resolved",
    };
    assert.deepEqual(resolveParameters(template, context), {
      a: "p1",
      nested: { list: [42, 7, true, null, { deep: "done" }], keep: 1.5 },
      "${not.a.key}": "keys are not resolved",
    });
  });

  it("the result shares no object with the context", () => {
    const out = resolveParameters({ a: "${workflow.input.a}" }, context);
    (out["a"] as { b: { c: string } }).b.c = "changed";
    assert.equal(resolve("${workflow.input.a.b.c}").result, "deep");
  });

  it("reads live views with getters, as the engine builds them", () => {
    const task = { output: { v: 1 } };
    const view = {
      t: {
        get output() {
          return task.output;
        },
      },
    };
    assert.deepEqual(resolveValue("${t.output}", view), { v: 1 });
    task.output = { v: 2 };
    assert.deepEqual(resolveValue("${t.output.v}", view), 2);
  });

  it("calls onMissing once per missing expression", () => {
    const missing: string[] = [];
    resolveParameters({ a: "${x.y}", b: ["${x.z}", "${workflow.input.param1}"] }, context, { onMissing: (e) => missing.push(e) });
    assert.deepEqual(missing, ["x.y", "x.z"]);
  });
});

describe("listExpressions", () => {
  it("lists every expression with its JSON pointer", () => {
    const template = {
      a: "${workflow.input.a}",
      b: ["x", "pre ${t1.output.op} and ${t2.output['k']}"],
      "c/d~e": { f: "${workflow.input.${workflow.input.key}}" },
      g: "$${escaped}",
      h: 3,
    };
    assert.deepEqual(listExpressions(template), [
      { path: "/a", expression: "workflow.input.a" },
      { path: "/b/1", expression: "t1.output.op" },
      { path: "/b/1", expression: "t2.output['k']" },
      { path: "/c~1d~0e/f", expression: "workflow.input.${workflow.input.key}" },
      { path: "/c~1d~0e/f", expression: "workflow.input.key" },
    ]);
    assert.deepEqual(listExpressions("${a}"), [{ path: "", expression: "a" }]);
  });
});

describe("speed", () => {
  it("compiled paths are cached", () => {
    assert.equal(compilePath("workflow.input.param1"), compilePath("workflow.input.param1"));
  });
});

describe("filters are deferred where they do not run (the serving thread)", () => {
  it("a path with a filter or script step throws FilterDeferred unless filters run; other paths resolve as before", () => {
    for (const template of ["${workflow.input.list[?(@.n > 1)]}", "x ${workflow.input.list[(@.length-1)]}", "${workflow.input.${workflow.input.key}[?(@)]}"]) {
      assert.throws(() => resolveValue(template, context), FilterDeferred, template);
      assert.doesNotThrow(() => resolveValue(template, context, { runFilters: true }), template);
    }
    assert.equal(compilePath("workflow.input.list[?(@.n > 1)]").filter, true);
    for (const path of ["workflow.input.list[*]", "workflow.input.list[0:2]", "$..n", "workflow.input['a b']", "workflow.input.list.length()"])
      assert.equal(compilePath(path).filter, false, path);
    assert.deepEqual(resolveValue("${workflow.input.list[*].n}", context), resolveValue("${workflow.input.list[*].n}", context, { runFilters: true }));
  });
});
