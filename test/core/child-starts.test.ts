// A fork of SUB_WORKFLOWs asks for its children's starts in one decision;
// each is an outbox item the server carries out after the fork's commit.
// One at a time, a parent's 40 children were 40 times a take of the item,
// a start's transaction and a delete, each waiting on the one before: in the
// sub-workflow bench a child waited 1.9 s (p50) from its task's scheduling
// to its run's creation. Now the starts one decision wrote go together (at
// most STARTS_TOGETHER at a time): taken in one statement, decided and
// written in shared batches, deleted in one statement. Counted in statements.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { STARTS_TOGETHER } from "../../server/src/runtime/after-commit.js";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf, forkOfListedTasks } from "../support/flows.js";
import { statementsDuring } from "../support/statements.js";

const CHILDREN = 100;
let h: Harness;

before(async () => {
  h = await startHarness();
  await h.client.registerWorkflowDef(flowOf("child_waits", [{ name: "wait", taskReferenceName: "wait", type: "WAIT" }]));
  await h.client.registerWorkflowDef(flowOf("child_ends", [{ name: "set", taskReferenceName: "set", type: "SET_VARIABLE", inputParameters: { done: true } }]));
  await h.client.registerWorkflowDef(forkOfListedTasks("fork_children"));
});
after(() => h.close());

/** The text of a statement's arguments (a string, or a query config). */
const textOf = (args: unknown[]) => (typeof args[0] === "string" ? args[0] : ((args[0] as { text?: string }).text ?? ""));

describe("the runs one decision starts", () => {
  it(`${CHILDREN} SUB_WORKFLOW children are taken, started and finished ${STARTS_TOGETHER} at a time`, async () => {
    const tasks = Array.from({ length: CHILDREN }, (_, i) => ({
      name: "child_waits",
      taskReferenceName: `child_${i}`,
      type: "SUB_WORKFLOW",
      subWorkflowParam: { name: "child_waits" },
    }));
    let takes = 0;
    let finishes = 0;
    let runWrites = 0;
    let root = "";
    await statementsDuring(
      async () => {
        root = await h.client.startWorkflow("fork_children", { tasks });
        await h.settle();
      },
      (args) => {
        const text = textOf(args);
        // Items taken by id: the writer's own (a sweep takes the oldest free ones, of any writer).
        if (text.includes("UPDATE baton.outbox SET taken_until") && /WHERE id = (\$3|ANY\(\$3)/.test(text)) takes++;
        if (text.includes("DELETE FROM baton.outbox")) finishes++;
        if (text.includes("INSERT INTO baton.runs")) runWrites++;
      },
    );
    const run = await h.client.getWorkflow(root, { includeTasks: true });
    const subs = run.tasks.filter((t) => t.taskType === "SUB_WORKFLOW" && t.subWorkflowId);
    const children = await Promise.all(subs.map((t) => h.client.getWorkflow(t.subWorkflowId!)));
    assert.equal(children.filter((c) => c.status === "RUNNING").length, CHILDREN, "every child started");
    const groups = Math.ceil(CHILDREN / STARTS_TOGETHER);
    assert.equal(takes, groups, `the children's items taken in ${takes} statements`);
    assert.equal(finishes, groups, `the children's items deleted in ${finishes} statements`);
    // The root's start, then its children's in shared batches (a batch queue of 4 in flight takes what waits together).
    assert.ok(runWrites - 1 < CHILDREN / 4, `${CHILDREN} children written in ${runWrites - 1} batches`);
  });

  it(`${CHILDREN} children that end at once are decided on their parent as it is kept in memory, not read whole`, async () => {
    const tasks = Array.from({ length: CHILDREN }, (_, i) => ({
      name: "child_ends",
      taskReferenceName: `child_${i}`,
      type: "SUB_WORKFLOW",
      subWorkflowParam: { name: "child_ends" },
    }));
    let root = "";
    const reads: Promise<number>[] = [];
    await statementsDuring(
      async () => {
        root = await h.client.startWorkflow("fork_children", { tasks });
        await h.settle();
      },
      (args, results) => {
        // A batch's read of its runs' tasks whole (run-batches.ts): how many rows each brought.
        if (textOf(args).includes("FROM baton.tasks t WHERE t.run_id = ANY(ARRAY(SELECT unnest"))
          reads.push(results.then((r) => [r].flat().reduce((n: number, x) => n + (((x as { rows?: unknown[] }).rows ?? []).length > CHILDREN ? 1 : 0), 0)));
      },
    );
    const run = await h.client.getWorkflow(root);
    assert.equal(run.status, "COMPLETED", "every child ended, and the join with them");
    const whole = (await Promise.all(reads)).reduce((a, b) => a + b, 0);
    assert.equal(whole, 0, `the parent's ${CHILDREN + 2} tasks were read whole ${whole} times`);
  });
});
