// fast-check generators for hostile input: Conductor definitions that are
// almost right (the shapes people and programs get wrong), ${...} templates,
// and JSON documents that are deep, wide or odd.
import fc from "fast-check";

export const TASK_TYPES = [
  "SIMPLE",
  "DECISION",
  "SWITCH",
  "FORK_JOIN",
  "FORK",
  "JOIN",
  "EXCLUSIVE_JOIN",
  "FORK_JOIN_DYNAMIC",
  "DO_WHILE",
  "SET_VARIABLE",
  "TERMINATE",
  "WAIT",
  "HUMAN",
  "NOOP",
  "INLINE",
  "LAMBDA",
  "JSON_JQ_TRANSFORM",
  "DYNAMIC",
  "SUB_WORKFLOW",
  "START_WORKFLOW",
  "EVENT",
  "HTTP",
  "KAFKA_PUBLISH",
  "NOT_A_TYPE",
  "",
];

/** Short names from a small alphabet, so duplicates and clashes happen often. */
export const name = fc.oneof(
  { weight: 5, arbitrary: fc.constantFrom("a", "b", "c", "t1", "t2", "loop", "fork", "join", "sub") },
  { weight: 1, arbitrary: fc.string({ maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom("", " ", "a/b", "a~b", "${x}", "__1", "a__2", "\u0000", "é", "🙂") },
);

const pathSegment = fc.oneof(
  fc.constantFrom("workflow", "input", "output", "a", "b", "t1", "variables", "taskId", "length()", "*", "..", "@", "$", "CPEWF_TASK_ID", ""),
  fc.string({ maxLength: 6 }),
  fc.integer({ min: -3, max: 5 }).map((n) => `[${n}]`),
  fc.constantFrom("[?(@.x > 1)]", "[-1:]", "[0:2]", "['k']", '["k"]', "[*]", "[", "]", "(", ")", "'", '"', "?", "{", "}", "${", "$$"),
);

/** A `${...}` template: mostly plausible paths, some broken, some nested. */
export const template: fc.Arbitrary<string> = fc.letrec<{ t: string }>((tie) => ({
  t: fc.oneof(
    { depthSize: "small", withCrossShrink: true },
    fc.string({ maxLength: 10 }),
    fc.array(pathSegment, { maxLength: 6 }).map((segs) => `\${${segs.join(".")}}`),
    fc.array(pathSegment, { maxLength: 6 }).map((segs) => `\${${segs.join("")}`),
    fc.tuple(fc.string({ maxLength: 5 }), tie("t"), fc.string({ maxLength: 5 })).map(([a, b, c]) => `${a}${b}${c}`),
    tie("t").map((inner) => `\${${inner}}`),
    tie("t").map((inner) => `$\${${inner}}`),
  ),
})).t;

/** A JSON value where templates appear as strings, at any depth. */
export const templated: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: template },
  { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 2 }) },
  { weight: 1, arbitrary: fc.array(template, { maxLength: 3 }) },
  { weight: 1, arbitrary: fc.dictionary(name, fc.oneof(template, fc.array(template, { maxLength: 2 })), { maxKeys: 3 }) },
);

/** Something wrong where a value should be. */
const junk = fc.oneof(fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 5 }), fc.constant([]), fc.constant({}));

/** A workflow task tree: every field Conductor reads, sometimes of the wrong type; nesting bounded by `depth`. */
function taskAt(depth: number): fc.Arbitrary<Record<string, unknown>> {
  const list: fc.Arbitrary<unknown[]> = depth > 0 ? fc.array(taskAt(depth - 1), { maxLength: 2 }) : fc.constant([]);
  // Containers are rare (nil most of the time), so trees stay small.
  const maybe = <T>(a: fc.Arbitrary<T>) => fc.option(fc.oneof({ weight: 4, arbitrary: a }, { weight: 1, arbitrary: junk }), { freq: 3, nil: undefined });
  return fc
    .record(
      {
        name,
        taskReferenceName: name,
        type: fc.constantFrom(...TASK_TYPES),
        inputParameters: fc.oneof(fc.dictionary(name, templated, { maxKeys: 3 }), junk),
        forkTasks: maybe(fc.array(list, { maxLength: 2 })),
        decisionCases: maybe(fc.dictionary(name, list, { maxKeys: 2 })),
        defaultCase: maybe(list),
        loopOver: maybe(list),
        loopCondition: fc.oneof(
          fc.constantFrom("if ($.loop['iteration'] < 3) { true; } else { false; }", "true", "while(true){}", "$."),
          fc.string({ maxLength: 20 }),
          junk,
        ),
        joinOn: fc.oneof(fc.array(name, { maxLength: 3 }), junk),
        caseValueParam: fc.oneof(name, junk),
        evaluatorType: fc.oneof(fc.constantFrom("javascript", "value-param", "graaljs", "nope"), junk),
        expression: fc.oneof(fc.string({ maxLength: 20 }), junk),
        subWorkflowParam: fc.oneof(fc.record({ name, version: fc.oneof(fc.integer(), junk) }, { requiredKeys: [] }), junk),
        optional: fc.oneof(fc.boolean(), junk),
        startDelay: fc.oneof(fc.integer({ min: -5, max: 5 }), junk),
        retryCount: fc.oneof(fc.integer({ min: -2, max: 5 }), junk),
        sink: fc.oneof(name, junk),
        dynamicForkTasksParam: fc.oneof(name, junk),
        dynamicForkTasksInputParamName: fc.oneof(name, junk),
        dynamicTaskNameParam: fc.oneof(name, junk),
      },
      { requiredKeys: [] },
    )
    .map((t) => Object.fromEntries(Object.entries(t).filter(([, v]) => v !== undefined)));
}

export const workflowTask: fc.Arbitrary<Record<string, unknown>> = taskAt(2);

/** A WorkflowDef: plausible on the whole, wrong in places. */
export const workflowDef: fc.Arbitrary<Record<string, unknown>> = fc
  .record(
    {
      name,
      version: fc.oneof(fc.integer({ min: -1, max: 3 }), junk),
      schemaVersion: fc.oneof(fc.constantFrom(2, 1, 3), junk),
      description: fc.oneof(fc.string({ maxLength: 10 }), junk),
      tasks: fc.oneof({ weight: 6, arbitrary: fc.array(workflowTask, { maxLength: 5 }) }, { weight: 1, arbitrary: junk }),
      inputParameters: fc.oneof(fc.array(name, { maxLength: 3 }), junk),
      outputParameters: fc.oneof(fc.dictionary(name, templated, { maxKeys: 3 }), junk),
      failureWorkflow: fc.oneof(name, junk),
      restartable: fc.oneof(fc.boolean(), junk),
      timeoutPolicy: fc.oneof(fc.constantFrom("TIME_OUT_WF", "ALERT_ONLY", "X"), junk),
      timeoutSeconds: fc.oneof(fc.integer({ min: -1, max: 100 }), junk),
      variables: fc.oneof(fc.dictionary(name, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }), junk),
      inputTemplate: fc.oneof(fc.dictionary(name, fc.jsonValue({ maxDepth: 2 }), { maxKeys: 3 }), junk),
      ownerEmail: fc.oneof(fc.emailAddress(), junk),
    },
    { requiredKeys: ["name", "tasks"] },
  )
  .map((d) => d as Record<string, unknown>);

/** Anything at all, or a definition: what a hostile client may send. */
export const anyDefinition: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 4, arbitrary: workflowDef },
  { weight: 1, arbitrary: fc.anything() },
  { weight: 1, arbitrary: fc.jsonValue() },
);

export const taskDef = fc
  .record(
    {
      name,
      retryCount: fc.oneof(fc.integer({ min: -2, max: 5 }), junk),
      retryLogic: fc.oneof(fc.constantFrom("FIXED", "EXPONENTIAL_BACKOFF", "LINEAR_BACKOFF", "NOPE"), junk),
      retryDelaySeconds: fc.oneof(fc.integer({ min: -2, max: 5 }), junk),
      timeoutSeconds: fc.oneof(fc.integer({ min: -2, max: 100 }), junk),
      responseTimeoutSeconds: fc.oneof(fc.integer({ min: -2, max: 200 }), junk),
      timeoutPolicy: fc.oneof(fc.constantFrom("RETRY", "TIME_OUT_WF", "ALERT_ONLY", "X"), junk),
      pollTimeoutSeconds: fc.oneof(fc.integer({ min: -2, max: 100 }), junk),
      inputKeys: fc.oneof(fc.array(name, { maxLength: 3 }), junk),
      concurrentExecLimit: fc.oneof(fc.integer({ min: -2, max: 5 }), junk),
    },
    { requiredKeys: [] },
  )
  .map((d) => d as Record<string, unknown>);

/** Is `pointer` an RFC 6901 JSON pointer ("" or "/a/b~1c/0")? */
export function isJsonPointer(pointer: string): boolean {
  return pointer === "" || /^(\/([^~/]|~[01])*)+$/u.test(pointer);
}

/** The value at `pointer` in `doc`, or `missing`. */
export function resolvePointer(doc: unknown, pointer: string): { found: boolean; value?: unknown } {
  if (pointer === "") return { found: true, value: doc };
  let value: unknown = doc;
  for (const raw of pointer.slice(1).split("/")) {
    const key = raw.replace(/~1/g, "/").replace(/~0/g, "~");
    if (value === null || typeof value !== "object" || !Object.prototype.hasOwnProperty.call(value, key)) return { found: false };
    value = (value as Record<string, unknown>)[key];
  }
  return { found: true, value };
}

/** How many cases a property runs: reduced in `npm test`, 100,000 in `npm run faults`. */
export function fuzzRuns(reduced = 500): number {
  return process.env["BATON_FAULTS_FULL"] === "1" ? Number(process.env["BATON_FUZZ_RUNS"] ?? 100_000) : reduced;
}
