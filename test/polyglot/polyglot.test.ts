// One flow, three languages, a real server on a real PostgreSQL and the real
// clock: a TS step, a Go step, a Java step, a fork with a Go branch and a
// Java branch, a join, and a TS step that reads both branches through
// expressions. The data must arrive intact in every language and back:
// nested objects, unicode (astral, RTL, combining, escapes), integers beyond
// 2^53 and beyond 64 bits, nulls, empties, floats. Then the Go worker is
// SIGKILLed holding a task: after its lease the task goes to another Go
// worker and the run completes.
//
// The Go and Java workers are separate processes built from test/polyglot/go
// and test/polyglot/java. The first build on a fresh machine downloads Go
// modules and Maven artifacts, hence the generous timeout of the setup.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { BatonClient, Worker, type ConductorTask, type ConductorWorkflow } from "@baton/client";
import { createLogger, startServer, type BatonServer } from "@baton/server";
import { freshDatabase, stopCluster } from "../support/database.js";
import { buildGoWorker, buildJavaWorker, startGoWorker, startJavaWorker, stopAllWorkers, type WorkerProcess } from "./support.js";
import { flowOf } from "../support/flows.js";

const SETUP_TIMEOUT = 15 * 60_000;
const RUN_TIMEOUT = 120_000;

// ---- the data --------------------------------------------------------------------

/** What every language must carry through unchanged. */
const portable = {
  nested: { level1: { level2: { level3: { list: [1, [2, [3, { deep: "bottom" }]]], yes: true, no: false } } } },
  unicode: {
    music: "🎼𝄞 ♪ Ünïcödé ñ 中文 日本語 한국어",
    rtl: "שלום עולם · مرحبا بالعالم",
    emoji: "👩‍👩‍👧‍👦 🏳️‍🌈 👍🏽",
    combining: "e\u0301 a\u0308 \u200d\u200c",
    escapes: 'quote " backslash \\ newline \n tab \t cr \r slash / bell \u0007 del \u007f ls \u2028 ps \u2029 <script>&amp;',
    bom: "\ufeffbom",
    "ключ 🔑": "a key in Cyrillic with an emoji",
  },
  numbers: {
    big: 9007199254740991,
    negative: -1234567,
    negSafe: -9007199254740991,
    zero: 0,
    tenth: 0.1,
    huge: 1e15,
    negativeSmall: -2.5e-8,
    pi: 3.141592653589793,
    half: 1.5,
  } as Record<string, number | bigint>,
  nulls: { value: null, list: [null, 1, null], nested: { inner: null } },
  empties: { array: [], object: {}, string: "", nested: [[], {}, [{}]] },
  mixed: [1, "two", 3.5, null, true, { five: 5 }, [6]],
};

/** Integers past 2^53 and past 64 bits: BigInt in TS, *big.Int/json.Number in Go, BigInteger in Java. */
const exactIntegers = {
  ...portable,
  numbers: {
    ...portable.numbers,
    big: 9007199254740993n,
    negative: -12345678901234567890n,
    int64Max: 9223372036854775807n,
    beyond128: 123456789012345678901234567890123456789012n,
  },
};

/** Doubles whose text is long: 17 significant digits, extremes of the range. */
const longFloats = {
  ...portable,
  numbers: {
    ...portable.numbers,
    sum: 0.1 + 0.2, // 0.30000000000000004
    third: 1 / 3,
    tiny: 5e-324,
    huge: 1e300,
    maxDouble: Number.MAX_VALUE,
  },
};

type Payload = typeof portable;

// ---- the flow --------------------------------------------------------------------

const fromStep = (ref: string) => ({
  payload: `\${${ref}.output.payload}`,
  counter: `\${${ref}.output.counter}`,
  exact: `\${${ref}.output.exact}`,
  trail: `\${${ref}.output.trail}`,
  hangWorker: "${workflow.input.hangWorker}",
});

const flow = flowOf(
  "polyglot",
  [
    {
      name: "poly_ts_first",
      taskReferenceName: "ts_first",
      type: "SIMPLE",
      inputParameters: { payload: "${workflow.input.payload}", counter: "${workflow.input.counter}", exact: "${workflow.input.exact}", trail: [] },
    },
    { name: "poly_go_step", taskReferenceName: "go_step", type: "SIMPLE", inputParameters: fromStep("ts_first") },
    { name: "poly_java_step", taskReferenceName: "java_step", type: "SIMPLE", inputParameters: fromStep("go_step") },
    {
      name: "fork",
      taskReferenceName: "fork",
      type: "FORK_JOIN",
      forkTasks: [
        [{ name: "poly_go_branch", taskReferenceName: "go_branch", type: "SIMPLE", inputParameters: fromStep("java_step") }],
        [{ name: "poly_java_branch", taskReferenceName: "java_branch", type: "SIMPLE", inputParameters: fromStep("java_step") }],
      ],
    },
    { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: ["go_branch", "java_branch"] },
    {
      name: "poly_ts_last",
      taskReferenceName: "ts_last",
      type: "SIMPLE",
      inputParameters: {
        fromGo: "${join.output.go_branch}",
        fromJava: "${java_branch.output}",
        music: "${join.output.java_branch.payload.unicode.music}",
        rtl: "${go_branch.output.payload.unicode.rtl}",
        big: "${join.output.go_branch.payload.numbers.big}",
        negative: "${java_branch.output.payload.numbers.negative}",
        tenth: "${go_branch.output.payload.numbers.tenth}",
        huge: "${java_branch.output.payload.numbers.huge}",
        nothing: "${go_branch.output.payload.nulls.value}",
        emptyList: "${java_branch.output.payload.empties.array}",
        emptyObject: "${go_branch.output.payload.empties.object}",
        sentence: "${go_branch.output.payload.unicode.music} | ${java_branch.output.payload.unicode.rtl} | ${java_branch.output.counter}",
        counters: ["${go_branch.output.counter}", "${java_branch.output.counter}"],
        seen: ["${ts_first.output.seen}", "${go_step.output.seen}", "${java_step.output.seen}", "${go_branch.output.seen}", "${java_branch.output.seen}"],
      },
    },
  ],
  { result: "${ts_last.output}" },
);

const taskDefs = [
  { name: "poly_ts_first", retryCount: 0, timeoutSeconds: 300, responseTimeoutSeconds: 60 },
  // A short lease: a killed Go worker's task goes to another worker within seconds.
  { name: "poly_go_step", retryCount: 2, retryDelaySeconds: 0, timeoutSeconds: 300, responseTimeoutSeconds: 2 },
  { name: "poly_java_step", retryCount: 0, timeoutSeconds: 300, responseTimeoutSeconds: 60 },
  { name: "poly_go_branch", retryCount: 0, timeoutSeconds: 300, responseTimeoutSeconds: 60 },
  { name: "poly_java_branch", retryCount: 0, timeoutSeconds: 300, responseTimeoutSeconds: 60 },
  { name: "poly_ts_last", retryCount: 0, timeoutSeconds: 300, responseTimeoutSeconds: 60 },
  // Leases of 4 s for handlers that run 9 s: the workers must extend them.
  { name: "poly_go_slow", retryCount: 1, retryDelaySeconds: 0, timeoutSeconds: 300, responseTimeoutSeconds: 4 },
  { name: "poly_java_slow", retryCount: 1, retryDelaySeconds: 0, timeoutSeconds: 300, responseTimeoutSeconds: 4 },
];

/** One slow step, for the lease test. */
const slowFlow = (lang: "go" | "java") =>
  flowOf(
    `polyglot_slow_${lang}`,
    [
      {
        name: `poly_${lang}_slow`,
        taskReferenceName: "slow",
        type: "SIMPLE",
        inputParameters: { payload: "${workflow.input.payload}", counter: 1, exact: 1, trail: [], delayMs: 9000 },
      },
    ],
    { by: "${slow.output.by}", payload: "${slow.output.payload}" },
  );

// ---- the TS worker -----------------------------------------------------------------

interface StepInput {
  payload: Payload;
  counter: bigint | number;
  exact: bigint | number;
  trail: string[];
}

function tsWorker(address: string): Worker {
  const worker = new Worker({ address, workerId: "ts-1", minBackoffMs: 50, maxBackoffMs: 1000 });
  worker.handle<StepInput>("poly_ts_first", (input) => {
    const music = input.payload.unicode.music;
    return {
      payload: input.payload,
      counter: BigInt(input.counter) + 1n,
      exact: input.exact,
      trail: [...input.trail, "ts 🎼"],
      by: "ts-1",
      seen: {
        lang: "ts",
        codePoints: [...music].length,
        negativeMinusOne: BigInt(input.payload.numbers["negative"]!) - 1n,
        hugeAsDouble: Number(input.payload.numbers["huge"]),
      },
    };
  });
  worker.handle<Record<string, unknown>>("poly_ts_last", (input) => ({ ...input, by: "ts-1" }));
  return worker.start();
}

// ---- helpers -------------------------------------------------------------------------

/** The attempts of one task reference, in order. */
const attempts = (run: ConductorWorkflow, ref: string): ConductorTask[] => run.tasks.filter((t) => t.referenceTaskName === ref);

/**
 * Compares as JSON values. With `numbersByValue`, a number and a BigInt are
 * equal when they are the same double: PostgreSQL's jsonb keeps a number's
 * value, not its notation, so 1e300 comes back as its 301 digits (a BigInt in
 * TS, an integer node in Java), which is the same double.
 */
function normalize(value: unknown, numbersByValue: boolean): unknown {
  if (numbersByValue && (typeof value === "bigint" || typeof value === "number")) return Number(value);
  if (Array.isArray(value)) return value.map((v) => normalize(v, numbersByValue));
  if (value && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, normalize(v, numbersByValue)]));
  return value;
}

interface Case {
  payload: Payload;
  start: bigint;
  numbersByValue?: boolean;
}

/** An integer as parseJson gives it: a number when safe, else a BigInt. */
const int = (value: bigint): number | bigint => (Number.isSafeInteger(Number(value)) ? Number(value) : value);

/** What each language's step reports of what it saw: the same in all three. */
function seenBy(lang: string, payload: Payload) {
  return {
    lang,
    codePoints: [...payload.unicode.music].length,
    negativeMinusOne: int(BigInt(payload.numbers["negative"]!) - 1n),
    hugeAsDouble: Number(payload.numbers["huge"]),
  };
}

/** Everything a completed run must show, whatever worker of a language did a step. */
function assertIntact(run: ConductorWorkflow, workers: { go: string[]; java: string[] }, data: Case): void {
  assert.equal(
    run.status,
    "COMPLETED",
    `${run.reasonForIncompletion ?? ""}\n${JSON.stringify(run.tasks.map((t) => [t.referenceTaskName, t.status, t.reasonForIncompletion]))}`,
  );

  // Who did what: the last attempt of each step completed, by a worker of its language.
  const by: Record<string, string[]> = {
    ts_first: ["ts-1"],
    go_step: workers.go,
    java_step: workers.java,
    go_branch: workers.go,
    java_branch: workers.java,
    ts_last: ["ts-1"],
  };
  for (const [ref, ids] of Object.entries(by)) {
    const last = attempts(run, ref).at(-1);
    assert.ok(last, `no task ${ref}`);
    assert.equal(last.status, "COMPLETED", ref);
    assert.ok(ids.includes(last.workerId ?? ""), `${ref} was done by ${last.workerId}, expected one of ${ids.join(", ")}`);
  }

  const { payload, start } = data;
  const counter = start + 4n; // +1 in ts_first, go_step, java_step and in each branch
  const trail = ["ts 🎼", "go 🐹", "java ☕🫘"];
  const branchOutput = (lang: "go" | "java", workerId: unknown) => ({
    payload,
    counter: int(counter),
    exact: int(start),
    trail: [...trail, lang === "go" ? "go 🐹" : "java ☕🫘"],
    by: workerId,
    seen: seenBy(lang, payload),
  });
  const expected = {
    // Whole outputs, one through the join's output and one straight from the branch.
    fromGo: branchOutput("go", attempts(run, "go_branch").at(-1)!.workerId),
    fromJava: branchOutput("java", attempts(run, "java_branch").at(-1)!.workerId),
    // Single values picked by path.
    music: payload.unicode.music,
    rtl: payload.unicode.rtl,
    big: payload.numbers["big"],
    negative: payload.numbers["negative"],
    tenth: 0.1,
    huge: payload.numbers["huge"],
    nothing: null,
    emptyList: [],
    emptyObject: {},
    // Text interpolation, with an integer in it.
    sentence: `${payload.unicode.music} | ${payload.unicode.rtl} | ${counter}`,
    counters: [int(counter), int(counter)],
    seen: [seenBy("ts", payload), seenBy("go", payload), seenBy("java", payload), seenBy("go", payload), seenBy("java", payload)],
    by: "ts-1",
  };
  const result = run.output["result"] as Record<string, unknown>;
  const norm = (v: unknown) => normalize(v, data.numbersByValue ?? false);
  // Field by field first, for a readable failure.
  for (const key of Object.keys(expected)) assert.deepEqual(norm(result[key]), norm(expected[key as keyof typeof expected]), `result.${key}`);
  assert.deepEqual(norm(result), norm(expected));
}

// ---- the test ----------------------------------------------------------------------

let server: BatonServer;
let client: BatonClient;
let ts: Worker;
const go: WorkerProcess[] = [];
const java: WorkerProcess[] = [];

before(
  async () => {
    // Builds first (minutes on a fresh machine), in parallel with the server.
    const builds = Promise.all([buildGoWorker(), buildJavaWorker()]);
    server = await startServer({ databaseUrl: await freshDatabase(), port: 0, logger: createLogger(process.env["BATON_LOG_LEVEL"] ?? "silent") });
    client = new BatonClient({ address: server.address });
    await client.registerTaskDefs(taskDefs);
    await client.registerWorkflowDef(flow);
    await client.registerWorkflowDef(slowFlow("go"));
    await client.registerWorkflowDef(slowFlow("java"));
    ts = tsWorker(server.address);
    await builds;
    go.push(await startGoWorker({ address: server.address, workerId: "go-1" }));
    java.push(await startJavaWorker({ address: server.address, workerId: "java-1" }));
    await Promise.all([go[0]!.waitFor((e) => e.event === "ready"), java[0]!.waitFor((e) => e.event === "ready")]);
  },
  { timeout: SETUP_TIMEOUT },
);

after(
  async () => {
    await stopAllWorkers();
    await ts?.stop();
    for (const w of [...go, ...java]) assert.equal(w.running, false, `${w.workerId} still runs`);
    client?.close();
    await server?.close();
    await stopCluster();
  },
  { timeout: 60_000 },
);

async function runFlow(data: Case, waitMs: number, extra: Record<string, unknown> = {}): Promise<ConductorWorkflow> {
  const id = await client.startWorkflow("polyglot", { payload: data.payload, counter: data.start, exact: data.start, ...extra });
  return client.waitWorkflow(id, waitMs);
}

describe("a flow across TypeScript, Go and Java workers", () => {
  it("carries nested objects, unicode, nulls, empties, integers and floats intact through every language", { timeout: RUN_TIMEOUT }, async () => {
    const data = { payload: portable, start: 1234567n };
    const run = await runFlow(data, RUN_TIMEOUT - 10_000);
    assertIntact(run, { go: ["go-1"], java: ["java-1"] }, data);
    // Each step ran once: nothing timed out on the way.
    assert.deepEqual(
      run.tasks.map((t) => t.referenceTaskName),
      ["ts_first", "go_step", "java_step", "fork", "go_branch", "java_branch", "join", "ts_last"],
    );
  });

  it("keeps integers beyond 2^53 and beyond 64 bits exact through every language", { timeout: RUN_TIMEOUT }, async () => {
    const data = { payload: exactIntegers, start: 9007199254740993n };
    assertIntact(await runFlow(data, 30_000), { go: ["go-1"], java: ["java-1"] }, data);
  });

  it("carries doubles with 17 significant digits and the extremes of the range", { timeout: RUN_TIMEOUT }, async () => {
    const data = { payload: longFloats, start: 1234567n, numbersByValue: true };
    assertIntact(await runFlow(data, 30_000), { go: ["go-1"], java: ["java-1"] }, data);
  });

  it("keeps the leases of Go and Java handlers that run longer than their responseTimeout", { timeout: RUN_TIMEOUT }, async () => {
    const runs = await Promise.all(
      (["go", "java"] as const).map(async (lang) => {
        const id = await client.startWorkflow(`polyglot_slow_${lang}`, { payload: portable });
        return client.waitWorkflow(id, 60_000);
      }),
    );
    for (const run of runs) {
      assert.equal(run.status, "COMPLETED", `${run.workflowName}: ${run.reasonForIncompletion ?? ""}`);
      assert.deepEqual(
        run.tasks.map((t) => [t.status, t.retryCount]),
        [["COMPLETED", 0]],
        `${run.workflowName} ran once, its lease extended all along`,
      );
      assert.ok(run.tasks[0]!.endTime - run.tasks[0]!.startTime >= 9000);
      assert.deepEqual(run.output["payload"], portable);
    }
  });

  it("hands a task to another Go worker when the one holding it is killed", { timeout: RUN_TIMEOUT }, async () => {
    const data = { payload: portable, start: 1234567n };
    const first = go[0]!;
    const id = await client.startWorkflow("polyglot", { payload: data.payload, counter: data.start, exact: data.start, hangWorker: first.workerId });
    const hang = await first.waitFor((e) => e.event === "hang", RUN_TIMEOUT / 2);
    await first.kill();

    const second = await startGoWorker({ address: server.address, workerId: "go-2" });
    go.push(second);
    const run = await client.waitWorkflow(id, RUN_TIMEOUT - 20_000);
    assertIntact(run, { go: ["go-2"], java: ["java-1"] }, data);

    const steps = attempts(run, "go_step");
    assert.ok(steps.length >= 2, `go_step ran ${steps.length} time(s)`);
    const held = steps.find((t) => t.taskId === hang["taskId"]);
    assert.ok(held, "the task the killed worker held");
    assert.equal(held.workerId, first.workerId);
    assert.equal(held.status, "TIMED_OUT");
    assert.equal(steps.at(-1)!.workerId, "go-2");
    assert.equal(steps.at(-1)!.retryCount, held.retryCount + 1);
  });
});
