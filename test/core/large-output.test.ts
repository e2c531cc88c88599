// A worker's large output, and a run's large input, are written to
// PostgreSQL as the text they came in, not written out again from the parsed
// object (issue 14, point 2: at 2 MB that second JSON text held the serving
// thread for tens of ms). What is stored is the same value: read back through
// the API and from the row, whatever the text's spacing, its integers beyond
// 2^53 and its escapes. Parsing such an output and checking it are turns of
// the event loop of their own.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";
import { TaskStatus } from "@baton/protocol";
import pg from "pg";
import { startHarness, type Harness } from "../support/harness.js";
import { countTurns, jsonDuring, textsOfAtLeast } from "../support/turns.js";

let h: Harness;

before(async () => {
  h = await startHarness();
  await h.client.registerTaskDefs([{ name: "large_output_step" }]);
  await h.client.registerWorkflowDef({
    name: "large_output",
    version: 1,
    schemaVersion: 2,
    tasks: [{ name: "large_output_step", taskReferenceName: "step", type: "SIMPLE" }],
  });
});
after(() => h.close());

/** About 1.1 MB of JSON: an output under the 2 MiB limit. */
const largeOutputText = () => JSON.stringify({ rows: Array.from({ length: 10_000 }, (_, i) => ({ id: i, note: "z".repeat(100) })) });

/** Counts the characters of each JSON text of `min` or more characters the process writes meanwhile. */
async function largeTextsWritten<T>(min: number, fn: () => Promise<T>): Promise<{ result: T; texts: number[] }> {
  const original = JSON.stringify;
  const texts: number[] = [];
  JSON.stringify = ((...args: Parameters<typeof JSON.stringify>) => {
    const text = original(...args);
    if (typeof text === "string" && text.length >= min) texts.push(text.length);
    return text;
  }) as typeof JSON.stringify;
  try {
    return { result: await fn(), texts };
  } finally {
    JSON.stringify = original;
  }
}

/**
 * The turn of the event loop (counted by a chain of setImmediate) in which the
 * last JSON text of `min` or more characters was parsed, and the one in which
 * its value was first walked (Object.keys or Object.entries of it, as the
 * payload check does), while `fn` runs.
 */
async function parseAndCheckTurns(min: number, fn: () => Promise<unknown>): Promise<{ parsed?: number; checked?: number }> {
  const { parse } = JSON;
  const { keys, entries } = Object;
  const turns = countTurns();
  let root: unknown;
  const seen: { parsed?: number; checked?: number } = {};
  JSON.parse = ((text: string, reviver?: Parameters<typeof parse>[1]) => {
    const value: unknown = parse(text, reviver);
    if (text.length >= min) {
      [root, seen.parsed] = [value, turns.now];
      delete seen.checked;
    }
    return value;
  }) as typeof JSON.parse;
  const walked = (value: unknown) => {
    if (value === root && seen.checked === undefined) seen.checked = turns.now;
  };
  Object.keys = ((value: object) => (walked(value), keys(value))) as typeof Object.keys;
  Object.entries = ((value: object) => (walked(value), entries(value))) as typeof Object.entries;
  try {
    await fn();
    return seen;
  } finally {
    JSON.parse = parse;
    Object.keys = keys;
    Object.entries = entries;
    turns.stop();
  }
}

describe("a worker's large output", () => {
  it("is parsed in one turn of the event loop and checked in a later one", async () => {
    const id = await h.client.startWorkflow("large_output", {});
    const { tasks } = await h.client.tasks.poll({ taskType: "large_output_step", workerId: "w", count: 1, waitMs: 5000n });
    const task = tasks[0]!;
    const text = JSON.stringify({ rows: Array.from({ length: 5_000 }, (_, i) => ({ id: i, note: "z".repeat(60) })) });
    const turns = await parseAndCheckTurns(text.length, () =>
      h.client.tasks.updateTask({
        result: { taskId: task.taskId, leaseToken: task.leaseToken, status: TaskStatus.COMPLETED, outputJson: text, workerId: "w" },
      }),
    );
    assert.ok(turns.parsed !== undefined && turns.checked !== undefined, `the output was parsed and checked: ${JSON.stringify(turns)}`);
    assert.ok(turns.checked > turns.parsed, `checked in turn ${turns.checked}, parsed in turn ${turns.parsed}`);
    assert.equal((await h.client.getWorkflow(id)).status, "COMPLETED");
  });

  it("of many workers at once are read one at a time, other work running between them", async () => {
    // Before, calls that arrived together each did their scan in one turn and their parse in the next: 300 such
    // outputs were 300 parses in one turn, and /healthz waited seconds behind them.
    const text = JSON.stringify({ rows: Array.from({ length: 5_000 }, (_, i) => ({ id: i, note: "q".repeat(60) })) });
    const { parse } = JSON;
    const turns = countTurns();
    const parsedIn: number[] = [];
    JSON.parse = ((source: string, reviver?: Parameters<typeof parse>[1]) => {
      if (source.length >= text.length) parsedIn.push(turns.now);
      return parse(source, reviver);
    }) as typeof JSON.parse;
    try {
      const answers = await Promise.all(
        Array.from({ length: 12 }, () =>
          h.client.tasks.updateTask({ result: { taskId: randomUUID(), leaseToken: "x", status: TaskStatus.COMPLETED, outputJson: text, workerId: "w" } }).then(
            () => "applied",
            (e: Error) => e.message,
          ),
        ),
      );
      assert.ok(
        answers.every((a) => a.startsWith("5 NOT_FOUND")),
        answers.join(", "),
      );
    } finally {
      JSON.parse = parse;
      turns.stop();
    }
    assert.equal(parsedIn.length, 12, `each output parsed once: ${parsedIn.join(", ")}`);
    for (let i = 1; i < parsedIn.length; i++)
      assert.ok(parsedIn[i]! > parsedIn[i - 1]! + 1, `parses in turns ${parsedIn.join(", ")}: two with no turn between them`);
  });

  it("as runs' large inputs started at once: read one at a time, other work running between them", async () => {
    // Before, each start's input was scanned, parsed and checked in the turn its request was decoded in, and the
    // requests were decoded in consecutive turns: parses with no turn between them.
    const text = JSON.stringify({ rows: Array.from({ length: 5_000 }, (_, i) => ({ id: i, note: "s".repeat(60) })) });
    const { parse } = JSON;
    const turns = countTurns();
    const parsedIn: number[] = [];
    JSON.parse = ((source: string, reviver?: Parameters<typeof parse>[1]) => {
      if (source.length >= text.length) parsedIn.push(turns.now);
      return parse(source, reviver);
    }) as typeof JSON.parse;
    let answers: string[];
    try {
      answers = await Promise.all(
        Array.from({ length: 8 }, () =>
          h.client.workflows.startWorkflow({ name: "large_output_absent", inputJson: text }).then(
            () => "started",
            (e: Error) => e.message,
          ),
        ),
      );
    } finally {
      JSON.parse = parse;
      turns.stop();
    }
    assert.ok(
      answers.every((a) => a.startsWith("5 NOT_FOUND")),
      answers.join(", "),
    );
    assert.equal(parsedIn.length, 8, `each input parsed once: ${parsedIn.join(", ")}`);
    for (let i = 1; i < parsedIn.length; i++)
      assert.ok(parsedIn[i]! > parsedIn[i - 1]! + 1, `parses in turns ${parsedIn.join(", ")}: two with no turn between them`);
  });

  it("too deep is still refused, naming the field", async () => {
    await h.client.startWorkflow("large_output", {});
    const { tasks } = await h.client.tasks.poll({ taskType: "large_output_step", workerId: "w", count: 1, waitMs: 5000n });
    const task = tasks[0]!;
    const deep = "[".repeat(101) + "]".repeat(101);
    const text = JSON.stringify({ pad: "p".repeat(300_000), deep: "DEEP" }).replace('"DEEP"', deep);
    await assert.rejects(
      h.client.tasks.updateTask({
        result: { taskId: task.taskId, leaseToken: task.leaseToken, status: TaskStatus.COMPLETED, outputJson: text, workerId: "w" },
      }),
      /output_json nests deeper than 100 levels/,
    );
  });

  it("is stored as the text it came in, which is not written out again", async () => {
    const id = await h.client.startWorkflow("large_output", {});
    const { tasks } = await h.client.tasks.poll({ taskType: "large_output_step", workerId: "w", count: 1, waitMs: 5000n });
    const task = tasks[0]!;
    // About 1 MB, spaced as a worker's pretty-printer would, with a long integer and escapes.
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ id: i, name: `row "${i}" \u00e9\u20ac\ud83d\ude00`, note: "x".repeat(40) }));
    const text = `{ "big" : 12345678901234567890123, "rows" : ${JSON.stringify(rows, null, 1)} }`;
    const { result, texts } = await largeTextsWritten(text.length / 2, () =>
      h.client.tasks.updateTask({
        result: { taskId: task.taskId, leaseToken: task.leaseToken, status: TaskStatus.COMPLETED, outputJson: text, workerId: "w" },
      }),
    );
    assert.equal(result.applied, true);
    assert.deepEqual(texts, [], "the output was written out as JSON again");

    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    const stored = run.tasks[0]!.outputData as { big: bigint; rows: unknown[] };
    assert.equal(stored.big, 12345678901234567890123n);
    assert.deepEqual(stored.rows, rows);
    const db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
    try {
      const { rows: found } = await db.query("SELECT output->>'big' AS big, output->'rows'->9999->>'name' AS name FROM baton.tasks WHERE id = $1", [
        task.taskId,
      ]);
      assert.deepEqual(found[0], { big: "12345678901234567890123", name: rows[9999]!.name });
    } finally {
      await db.end();
    }
  });
  it("a signal's large output is written as the text it came in, for its task and the run it ends", async () => {
    await h.client.registerWorkflowDef({
      name: "large_signal",
      version: 1,
      schemaVersion: 2,
      tasks: [{ name: "gate", taskReferenceName: "gate", type: "HUMAN" }],
    });
    const text = largeOutputText();
    const id = await h.client.startWorkflow("large_signal", {});
    await h.settle();
    const { writes } = await jsonDuring(textsOfAtLeast(text.length / 2), () =>
      h.client.workflows.signalTask({ workflowId: id, taskReferenceName: "gate", status: TaskStatus.COMPLETED, outputJson: text, reason: "" }),
    );
    // Before: 4 (measured against the limit and written, as the task's output and again as the run's).
    assert.equal(writes, 0);
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.tasks[0]!.outputData, JSON.parse(text));
    assert.deepEqual(run.output, JSON.parse(text));
  });

  it("a skip's large output is written as the text it came in", async () => {
    await h.client.registerWorkflowDef({
      name: "large_skip",
      version: 1,
      schemaVersion: 2,
      tasks: [
        { name: "gate", taskReferenceName: "gate", type: "HUMAN" },
        { name: "later", taskReferenceName: "later", type: "HUMAN" },
      ],
    });
    const text = largeOutputText();
    const id = await h.client.startWorkflow("large_skip", {});
    await h.settle();
    const large = textsOfAtLeast(text.length / 2);
    const skipped = await jsonDuring(large, () => h.client.workflows.skipTask({ workflowId: id, taskReferenceName: "later", outputJson: text }));
    // Before: 1, the skipped task's row.
    assert.equal(skipped.writes, 0);
    // The flow reaches the skipped task (the run read again, its tasks' payloads parsed) and writes its row again.
    const signaled = await jsonDuring(large, () =>
      h.client.workflows.signalTask({ workflowId: id, taskReferenceName: "gate", status: TaskStatus.COMPLETED, outputJson: "{}", reason: "" }),
    );
    assert.equal(signaled.writes, 1);
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.tasks.find((t) => t.referenceTaskName === "later")?.outputData, JSON.parse(text));
  });

  it("as a run's large input: stored as the text it came in", async () => {
    const rows = Array.from({ length: 10_000 }, (_, i) => ({ id: i, note: `"${i}" ${"y".repeat(60)}` }));
    const text = `{ "big" : 98765432109876543210, "rows" : ${JSON.stringify(rows, null, 1)} }`;
    const { result, texts } = await largeTextsWritten(text.length / 2, () => h.client.workflows.startWorkflow({ name: "large_output", inputJson: text }));
    assert.deepEqual(texts, [], "the input was written out as JSON again");
    const run = await h.client.getWorkflow(result.workflowId);
    assert.deepEqual(run.input, { big: 98765432109876543210n, rows });
  });
});
