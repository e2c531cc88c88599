// A DO_WHILE's iteration outputs are stored a row each (issue 14, point 2:
// loop bookkeeping O(1) per iteration). Before, every iteration rewrote the
// loop task's whole output, so an iteration's write grew with the iterations
// before it. Readers still see Conductor's shape: `{"1": {...}, ...,
// "iteration": n}` in GetWorkflow and in `${loop.output}`.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { startHarness, startToEnd, type Harness } from "../support/harness.js";
import { MOVE_LOOP_ENTRIES_SQL } from "../../server/src/store/loop-iterations.js";
import { runLockReadsDuring } from "../support/batch-reads.js";
import { flowOf, oneLoop } from "../support/flows.js";
import { statementsDuring } from "../support/statements.js";

let h: Harness;
let db: pg.Client;

before(async () => {
  h = await startHarness();
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
});
after(async () => {
  await db.end();
  await h.close();
});

/** Bytes of the parameters of each batch write the server sends while `fn` runs. */
async function writesDuring(fn: () => Promise<unknown>): Promise<number[]> {
  const sizes: number[] = [];
  await statementsDuring(fn, ([statement]) => {
    const q = statement as { name?: string; values?: unknown[] } | undefined;
    if (typeof q?.name === "string" && q.name.startsWith("baton-write-")) {
      sizes.push((q.values ?? []).reduce<number>((n, v) => n + Buffer.byteLength(typeof v === "string" ? v : JSON.stringify(v)), 0));
    }
  });
  return sizes;
}

async function loopTaskId(runId: string): Promise<string> {
  return (await db.query("SELECT id FROM baton.tasks WHERE run_id = $1 AND type = 'DO_WHILE'", [runId])).rows[0].id as string;
}

describe("a loop's iterations", () => {
  it("each writes its own output, not the loop's whole output again", async () => {
    // One iteration per decision (the body is a script): 2 KB a time, 24 times.
    await h.client.registerWorkflowDef(
      oneLoop("loop_writes", {
        inputParameters: {},
        loopCondition: "$.loop['iteration'] < 24",
        loopOver: [{ name: "s", taskReferenceName: "s", type: "INLINE", inputParameters: { evaluatorType: "javascript", expression: "'x'.repeat(2000)" } }],
      }),
    );
    let run!: Awaited<ReturnType<typeof startToEnd>>;
    const sizes = await writesDuring(async () => (run = await startToEnd(h, "loop_writes")));
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    const output = run.tasks.find((t) => t.referenceTaskName === "loop")!.outputData as Record<string, unknown>;
    assert.equal(output["iteration"], 24);
    assert.deepEqual(output["24"], { s: { result: "x".repeat(2000) } });
    assert.equal(Object.keys(output).length, 25);
    // The last iterations' writes are no larger than the first ones' (before: 24 entries of 2 KB, 50 KB a write).
    const early = Math.max(...sizes.slice(0, 6));
    const late = Math.max(...sizes.slice(-6));
    assert.ok(sizes.length >= 40, `${sizes.length} writes`);
    assert.ok(late < early + 1_000, `early writes up to ${early} bytes, late ones up to ${late}`);
    // Stored: the loop's row holds its own fields, each iteration a row.
    const id = await loopTaskId(run.workflowId);
    const { rows } = await db.query("SELECT pg_column_size(output) AS bytes FROM baton.tasks WHERE id = $1", [id]);
    assert.ok(rows[0].bytes < 200, `${rows[0].bytes} bytes in the loop's row`);
    assert.equal(Number((await db.query("SELECT count(*) AS n FROM baton.loop_iterations WHERE task_id = $1", [id])).rows[0].n), 24);
  });

  it("a long loop going on in the next event does not read its input again: the items it goes over", async () => {
    // 1,000 items of 200 bytes: ten decisions of 100 iterations, each after the loop's `continue`.
    await h.client.registerWorkflowDef(
      oneLoop("loop_over_items", { inputParameters: { items: "${workflow.input.items}" }, loopOver: [{ name: "n", taskReferenceName: "n", type: "NOOP" }] }),
    );
    const items = Array.from({ length: 1_000 }, (_, i) => `${i}:${"x".repeat(200)}`);
    let run!: Awaited<ReturnType<typeof startToEnd>>;
    const reads = await runLockReadsDuring(async () => (run = await startToEnd(h, "loop_over_items", { items })));
    const read = JSON.stringify(reads.map((results) => results.map((r) => r.rows))).length;
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    assert.equal((run.tasks.find((t) => t.referenceTaskName === "loop")!.outputData as Record<string, unknown>)["iteration"], 1_000);
    // Before, each continuation read the loop's row back whole, its input of 200 KB with it: 2 MB.
    const input = JSON.stringify(items).length;
    assert.ok(read < input, `the batches read ${read} bytes; the loop's input is ${input}`);
  });

  it("read back in Conductor's shape: GetWorkflow, ${loop.output} after the loop, keepLastN", async () => {
    await h.client.registerWorkflowDef(
      flowOf("loop_shape", [
        {
          name: "loop",
          taskReferenceName: "loop",
          type: "DO_WHILE",
          inputParameters: { items: "${workflow.input.items}", keepLastN: "${workflow.input.keep}" },
          loopOver: [
            {
              name: "s",
              taskReferenceName: "s",
              type: "INLINE",
              inputParameters: { evaluatorType: "javascript", v: "${loop.output.item}", expression: "$.v * 10" },
            },
          ],
        },
        { name: "after", taskReferenceName: "after", type: "SET_VARIABLE", inputParameters: { seen: "${loop.output}" } },
      ]),
    );
    const all = await startToEnd(h, "loop_shape", { items: [1, 2, 3], keep: 0 });
    assert.equal(all.status, "COMPLETED", all.reasonForIncompletion);
    const expected = { "1": { s: { result: 10 } }, "2": { s: { result: 20 } }, "3": { s: { result: 30 } }, iteration: 3, item: 3, index: 2 };
    assert.deepEqual(all.tasks.find((t) => t.referenceTaskName === "loop")!.outputData, expected);
    assert.deepEqual(all.variables["seen"], expected);

    const kept = await startToEnd(h, "loop_shape", { items: [1, 2, 3, 4, 5], keep: 2 });
    const keptOutput = { "4": { s: { result: 40 } }, "5": { s: { result: 50 } }, iteration: 5, item: 5, index: 4 };
    assert.deepEqual(kept.tasks.find((t) => t.referenceTaskName === "loop")!.outputData, keptOutput);
    assert.deepEqual(kept.variables["seen"], keptOutput);
    const id = await loopTaskId(kept.workflowId);
    const { rows } = await db.query("SELECT iteration FROM baton.loop_iterations WHERE task_id = $1 ORDER BY iteration", [id]);
    assert.deepEqual(
      rows.map((r) => r.iteration),
      [4, 5],
      "the entries keepLastN dropped are gone from the table",
    );

    // A loop stored whole, as before the table: the migration moves its entries, and it reads the same.
    const loopId = await loopTaskId(all.workflowId);
    await db.query("DELETE FROM baton.loop_iterations WHERE task_id = $1", [loopId]);
    await db.query("UPDATE baton.tasks SET output = $2 WHERE id = $1", [loopId, JSON.stringify(expected)]);
    await db.query(MOVE_LOOP_ENTRIES_SQL);
    assert.deepEqual((await db.query("SELECT output FROM baton.tasks WHERE id = $1", [loopId])).rows[0].output, { iteration: 3, item: 3, index: 2 });
    assert.equal(Number((await db.query("SELECT count(*) AS n FROM baton.loop_iterations WHERE task_id = $1", [loopId])).rows[0].n), 3);
    const again = await h.client.getWorkflow(all.workflowId);
    assert.deepEqual(again.tasks.find((t) => t.referenceTaskName === "loop")!.outputData, expected);
  });

  it("a loop whose run is read again for each event (it only waits) keeps its entries", async () => {
    await h.client.registerWorkflowDef(
      oneLoop("loop_waits", {
        inputParameters: { items: [1, 2, 3] },
        loopOver: [{ name: "w", taskReferenceName: "w", type: "WAIT", inputParameters: { duration: "1s" } }],
      }),
    );
    const id = await h.client.startWorkflow("loop_waits", {});
    for (let i = 0; i < 3; i++) await h.advance(1_500);
    const run = await h.client.getWorkflow(id);
    assert.equal(run.status, "COMPLETED", run.reasonForIncompletion);
    const output = run.tasks.find((t) => t.referenceTaskName === "loop")!.outputData as Record<string, unknown>;
    assert.deepEqual(
      Object.keys(output).filter((k) => /^\d+$/.test(k)),
      ["1", "2", "3"],
    );
    assert.equal(Number((await db.query("SELECT count(*) AS n FROM baton.loop_iterations WHERE task_id = $1", [await loopTaskId(id)])).rows[0].n), 3);
  });
});
