// One test per validation rule, each asserting the JSON pointer it reports.
import assert from "node:assert/strict";
import { test } from "node:test";
import { validateTaskDef, validateWorkflowDef, type ValidationIssue } from "../src/index.js";

type T = Record<string, unknown>;
const simple = (ref: string, extra: T = {}): T => ({ name: `task_${ref}`, taskReferenceName: ref, type: "SIMPLE", ...extra });
const wf = (tasks: T[], extra: T = {}): T => ({ name: "wf", version: 1, schemaVersion: 2, tasks, ...extra });
const paths = (issues: ValidationIssue[]) => issues.map((i) => i.path);

test("a minimal workflow has no errors and no warnings", () => {
  assert.deepEqual(validateWorkflowDef(wf([simple("a")])), { errors: [], warnings: [] });
});

test("shape: missing fields, wrong types and enums are reported at their pointer", () => {
  const r = validateWorkflowDef({
    name: "wf",
    timeoutPolicy: "NEVER",
    tasks: [{ name: "x" }, { name: "y", taskReferenceName: "y", startDelay: "soon" }],
  });
  assert.deepEqual(paths(r.errors).sort(), ["/tasks/0/taskReferenceName", "/tasks/1/startDelay", "/timeoutPolicy"]);
  assert.match(r.errors.find((e) => e.path === "/timeoutPolicy")?.message ?? "", /TIME_OUT_WF/);
});

test("shape: a value that is not an object is one error at the root", () => {
  assert.deepEqual(validateWorkflowDef(42).errors, [{ path: "", message: "must be object" }]);
});

test("shape: a key expression of the wrong form says in words what it takes, not the pattern", () => {
  const r = validateWorkflowDef(
    wf([simple("a")], { fairnessKey: "${customerId}", rateLimitConfig: { rateLimitKey: "${workflow.input}", concurrentExecLimit: 1 } }),
  );
  assert.deepEqual(r.errors, [
    {
      path: "/rateLimitConfig/rateLimitKey",
      message: 'must be a constant, or one plain ${workflow.input.<path>} or ${workflow.correlationId}, not "${workflow.input}"',
    },
    { path: "/fairnessKey", message: 'must be one plain ${workflow.input.<path>} or ${workflow.correlationId}, not "${customerId}"' },
  ]);
});

test("shape: the Java-model fields the schema lacks are accepted", () => {
  const def = wf([{ ...simple("a"), joinMode: "SYNC", items: ["x"], taskDefinition: { name: "t", maxRetryDelaySeconds: 5 } }], { failureWorkflowVersion: 2 });
  assert.deepEqual(validateWorkflowDef(def).errors, []);
});

test("duplicate taskReferenceName anywhere in the tree is an error at the second use", () => {
  const def = wf([
    simple("a"),
    {
      name: "fork",
      taskReferenceName: "fork",
      type: "FORK_JOIN",
      forkTasks: [[simple("b")], [simple("c"), simple("a")]],
    },
    { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: ["b", "a"] },
    {
      name: "loop",
      taskReferenceName: "loop",
      type: "DO_WHILE",
      loopCondition: "false",
      loopOver: [
        {
          name: "sw",
          taskReferenceName: "sw",
          type: "SWITCH",
          evaluatorType: "value-param",
          expression: "k",
          decisionCases: { x: [simple("b")] },
          defaultCase: [simple("c")],
        },
      ],
    },
  ]);
  assert.deepEqual(paths(validateWorkflowDef(def).errors), [
    "/tasks/1/forkTasks/1/1/taskReferenceName",
    "/tasks/3/loopOver/0/decisionCases/x/0/taskReferenceName",
    "/tasks/3/loopOver/0/defaultCase/0/taskReferenceName",
  ]);
});

test("SWITCH needs a known evaluatorType and an expression", () => {
  const r = validateWorkflowDef(wf([{ name: "s", taskReferenceName: "s", type: "SWITCH", evaluatorType: "python" }]));
  assert.deepEqual(paths(r.errors), ["/tasks/0/evaluatorType", "/tasks/0/expression"]);
});

test("DECISION needs caseValueParam or caseExpression", () => {
  const bad = validateWorkflowDef(wf([{ name: "d", taskReferenceName: "d", type: "DECISION" }]));
  assert.deepEqual(paths(bad.errors), ["/tasks/0/caseValueParam"]);
  const ok = validateWorkflowDef(wf([{ name: "d", taskReferenceName: "d", type: "DECISION", caseExpression: "1" }]));
  assert.deepEqual(ok.errors, []);
});

test("FORK_JOIN needs branches, each non-empty", () => {
  const none = validateWorkflowDef(
    wf([
      { name: "f", taskReferenceName: "f", type: "FORK_JOIN", forkTasks: [] },
      { name: "j", taskReferenceName: "j", type: "JOIN" },
    ]),
  );
  assert.deepEqual(paths(none.errors), ["/tasks/0/forkTasks"]);
  const empty = validateWorkflowDef(
    wf([
      { name: "f", taskReferenceName: "f", type: "FORK_JOIN", forkTasks: [[simple("a")], []] },
      { name: "j", taskReferenceName: "j", type: "JOIN", joinOn: ["a"] },
    ]),
  );
  assert.deepEqual(paths(empty.errors), ["/tasks/0/forkTasks/1"]);
});

test("FORK_JOIN must be followed by a JOIN in the same list", () => {
  const r = validateWorkflowDef(wf([{ name: "f", taskReferenceName: "f", type: "FORK_JOIN", forkTasks: [[simple("a")]] }, simple("after")]));
  assert.deepEqual(paths(r.errors), ["/tasks/0"]);
});

test("JOIN joinOn must name tasks in the fork's branches, nested ones included", () => {
  const r = validateWorkflowDef(
    wf([
      simple("before"),
      {
        name: "f",
        taskReferenceName: "f",
        type: "FORK_JOIN",
        forkTasks: [
          [simple("a"), simple("a2")],
          [
            { name: "inner", taskReferenceName: "inner", type: "FORK_JOIN", forkTasks: [[simple("deep")]] },
            { name: "ij", taskReferenceName: "ij", type: "JOIN", joinOn: ["deep"] },
          ],
        ],
      },
      { name: "j", taskReferenceName: "j", type: "JOIN", joinOn: ["a2", "deep", "before", "nowhere"] },
    ]),
  );
  assert.deepEqual(paths(r.errors), ["/tasks/2/joinOn/2", "/tasks/2/joinOn/3"]);
});

test("FORK_JOIN_DYNAMIC needs its parameters and a following JOIN", () => {
  const bad = validateWorkflowDef(wf([{ name: "d", taskReferenceName: "d", type: "FORK_JOIN_DYNAMIC" }]));
  assert.deepEqual(paths(bad.errors), ["/tasks/0/dynamicForkTasksParam", "/tasks/0"]);
  const byName = validateWorkflowDef(
    wf([
      { name: "d", taskReferenceName: "d", type: "FORK_JOIN_DYNAMIC", inputParameters: { forkTaskName: "encode", forkTaskInputs: [] } },
      { name: "j", taskReferenceName: "j", type: "JOIN" },
    ]),
  );
  assert.deepEqual(byName.errors, []);
});

test("DO_WHILE needs a loopCondition (unless it iterates items) and a body", () => {
  const r = validateWorkflowDef(wf([{ name: "l", taskReferenceName: "l", type: "DO_WHILE", loopOver: [] }]));
  assert.deepEqual(paths(r.errors), ["/tasks/0/loopCondition", "/tasks/0/loopOver"]);
  const items = validateWorkflowDef(wf([{ name: "l", taskReferenceName: "l", type: "DO_WHILE", inputParameters: { items: [1, 2] }, loopOver: [simple("a")] }]));
  assert.deepEqual(items.errors, []);
});

test("a DO_WHILE inside a DO_WHILE is refused once per inner loop, naming the SUB_WORKFLOW way", () => {
  const loop = (ref: string, body: T[]): T => ({ name: ref, taskReferenceName: ref, type: "DO_WHILE", loopCondition: "false", loopOver: body });
  const fork: T = { name: "f", taskReferenceName: "f", type: "FORK_JOIN", forkTasks: [[loop("c", [loop("d", [simple("x")])])]] };
  const r = validateWorkflowDef(wf([loop("a", [loop("b", [simple("y")]), fork, { name: "j", taskReferenceName: "j", type: "JOIN" }])]));
  assert.deepEqual(paths(r.errors), ["/tasks/0/loopOver/0", "/tasks/0/loopOver/1/forkTasks/0/0", "/tasks/0/loopOver/1/forkTasks/0/0/loopOver/0"]);
  assert.match(r.errors[0]!.message, /SUB_WORKFLOW/);
});

test("SUB_WORKFLOW needs subWorkflowParam with a name or a workflowDefinition", () => {
  const r = validateWorkflowDef(
    wf([
      { name: "s", taskReferenceName: "s", type: "SUB_WORKFLOW" },
      { name: "s", taskReferenceName: "s2", type: "SUB_WORKFLOW", subWorkflowParam: { version: 1 } },
      { name: "s", taskReferenceName: "s3", type: "SUB_WORKFLOW", subWorkflowParam: { workflowDefinition: wf([simple("x")]) } },
    ]),
  );
  assert.deepEqual(paths(r.errors), ["/tasks/0/subWorkflowParam", "/tasks/1/subWorkflowParam"]);
});

test("DYNAMIC needs dynamicTaskNameParam", () => {
  const r = validateWorkflowDef(wf([{ name: "d", taskReferenceName: "d", type: "DYNAMIC" }]));
  assert.deepEqual(paths(r.errors), ["/tasks/0/dynamicTaskNameParam"]);
});

test("TERMINATE needs a terminationStatus that is a known status or an expression", () => {
  const r = validateWorkflowDef(
    wf([
      { name: "t", taskReferenceName: "t1", type: "TERMINATE", inputParameters: { terminationStatus: "DONE" } },
      { name: "t", taskReferenceName: "t2", type: "TERMINATE" },
      { name: "t", taskReferenceName: "t3", type: "TERMINATE", inputParameters: { terminationStatus: "${workflow.input.s}" } },
      { name: "t", taskReferenceName: "t4", type: "TERMINATE", inputParameters: { terminationStatus: "TERMINATED" } },
    ]),
  );
  assert.deepEqual(paths(r.errors), ["/tasks/0/inputParameters/terminationStatus", "/tasks/1/inputParameters/terminationStatus"]);
});

test("an unknown task type is a worker task, not an error", () => {
  assert.deepEqual(validateWorkflowDef(wf([simple("a", { type: "USER_TASK" })])).errors, []);
});

test("an expression naming a task that does not exist is a warning at its pointer", () => {
  const r = validateWorkflowDef(
    wf(
      [simple("a", { inputParameters: { ok: "${a.output.x}", nested: { bad: "id ${ghost.output.id}" }, wf: "${workflow.input.x}", me: "${CPEWF_TASK_ID}" } })],
      { outputParameters: { o: "${phantom.output['k']}", p: ["${a.output}"] } },
    ),
  );
  assert.deepEqual(r.errors, []);
  assert.deepEqual(paths(r.warnings), ["/tasks/0/inputParameters/nested/bad", "/outputParameters/o"]);
});

test("a worker task with no task definition is a warning when hasTaskDef is given", () => {
  const def = wf([
    simple("a"),
    simple("b", { taskDefinition: { name: "task_b" } }),
    { name: "inl", taskReferenceName: "inl", type: "INLINE", inputParameters: { evaluatorType: "javascript", expression: "1" } },
    simple("c", { name: "known" }),
  ]);
  const r = validateWorkflowDef(def, { hasTaskDef: (n) => n === "known" });
  assert.deepEqual(r.warnings, [{ path: "/tasks/0/name", message: 'no task definition named "task_a" for this worker task' }]);
  assert.deepEqual(validateWorkflowDef(def).warnings, []);
});

test("escaped pointer segments for case keys with / and ~", () => {
  const r = validateWorkflowDef(
    wf([
      simple("a"),
      { name: "s", taskReferenceName: "s", type: "SWITCH", evaluatorType: "value-param", expression: "k", decisionCases: { "a/b~c": [simple("a")] } },
    ]),
  );
  assert.deepEqual(paths(r.errors), ["/tasks/1/decisionCases/a~1b~0c/0/taskReferenceName"]);
});

test("validateTaskDef: shape errors and the response-timeout rule", () => {
  assert.deepEqual(validateTaskDef({ name: "t", retryCount: 3, timeoutSeconds: 600, responseTimeoutSeconds: 60 }), []);
  assert.deepEqual(paths(validateTaskDef({ retryCount: -1, retryLogic: "RANDOM" })).sort(), ["/name", "/retryCount", "/retryLogic"]);
  assert.deepEqual(paths(validateTaskDef({ name: "t", timeoutSeconds: 10, responseTimeoutSeconds: 60 })), ["/responseTimeoutSeconds"]);
});

test("types Baton does not run (KAFKA_PUBLISH, USER_DEFINED) are refused at their type, saying what to do instead", () => {
  const r = validateWorkflowDef(
    wf([
      { name: "k", taskReferenceName: "k", type: "KAFKA_PUBLISH", inputParameters: { kafka_request: {} } },
      { name: "u", taskReferenceName: "u", type: "USER_DEFINED" },
    ]),
  );
  assert.deepEqual(paths(r.errors), ["/tasks/0/type", "/tasks/1/type"]);
  assert.match(r.errors[0]?.message ?? "", /Baton does not run KAFKA_PUBLISH tasks .*worker task \(type SIMPLE\)/);
});
