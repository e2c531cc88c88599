// A dynamic fork wider than a decision's task budget starts its branches over
// several events (a `continue` evaluation each), so no one decision holds the
// serving thread for thousands of them: meanwhile the fork is IN_PROGRESS and
// its join not there yet; the join then waits for every branch, each branch
// is made once, and ending the run (terminate, a failure) ends them all.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TASK_BUDGET } from "../../src/decider/evaluation.js";
import type { TaskState } from "../../src/decider/model.js";
import { flowDef, ManualRun } from "./sim.js";

const WIDTH = 2_500;
const dyn = flowDef([
  { name: "fork", taskReferenceName: "fork", type: "FORK_JOIN_DYNAMIC", inputParameters: { forkTaskName: "w", forkTaskInputs: "${workflow.input.items}" } },
  { name: "join", taskReferenceName: "join", type: "JOIN" },
]);
const items = Array.from({ length: WIDTH }, (_, i) => ({ i }));

const byRef = (run: ManualRun, ref: string): TaskState | undefined => run.tasks.findLast((t) => t.ref === ref);
const branches = (run: ManualRun) => run.tasks.filter((t) => t.defName === "w");

/** The fork's answer to the continuation it waits for (undefined once it waits for none). */
function continuation(run: ManualRun) {
  const fork = byRef(run, "fork")!;
  if (fork.marks.continueAt === undefined || fork.leaseExpiresAt === 0) return undefined;
  return { kind: "evaluated" as const, taskId: fork.id, leaseToken: fork.leaseToken, outcome: { ok: true as const, value: true } };
}

/** Answers the fork's continuations until it waits for none; the tasks each decision created. */
function continueAll(run: ManualRun): number[] {
  const made: number[] = [];
  for (let e = continuation(run); e; e = continuation(run)) made.push(run.apply(e).created.size);
  return made;
}

/** A worker takes `task` and reports `status`. */
function report(run: ManualRun, task: TaskState, status: "COMPLETED" | "FAILED", output = {}) {
  task.status = "IN_PROGRESS";
  task.leaseToken = `lease-${task.id}`;
  return run.apply({ kind: "taskResult", taskId: task.id, leaseToken: task.leaseToken, status, output, reason: "", callbackAfterSeconds: 0, workerId: "w" });
}

describe("a dynamic fork wider than a decision's task budget", () => {
  it("starts its branches over several events; the join, made with the last, waits for every branch", () => {
    const run = new ManualRun(dyn, new Map(), { items });
    assert.ok(run.last.created.size <= TASK_BUDGET, `the start made ${run.last.created.size} tasks`);
    assert.equal(byRef(run, "fork")!.status, "IN_PROGRESS");
    assert.equal(byRef(run, "join"), undefined);
    // A branch that ends before the rest exist ends no join and no run.
    report(run, branches(run)[0]!, "COMPLETED", { first: true });
    assert.equal(run.run.status, "RUNNING");
    const made = continueAll(run);
    assert.ok(made.length >= 2 && made.every((n) => n <= TASK_BUDGET), `continuations made ${made.join(", ")} tasks`);
    assert.equal(byRef(run, "fork")!.status, "COMPLETED");
    const forked = branches(run);
    assert.equal(forked.length, WIDTH);
    assert.equal(new Set(forked.map((t) => t.ref)).size, WIDTH, "each branch made once");
    assert.deepEqual(
      forked.map((t) => t.input["i"]),
      items.map((item) => item.i),
    );
    const join = byRef(run, "join")!;
    assert.equal((join.input["joinOn"] as string[]).length, WIDTH);
    for (const task of forked.slice(1, -1)) report(run, task, "COMPLETED");
    assert.equal(join.status, "IN_PROGRESS");
    report(run, forked.at(-1)!, "COMPLETED");
    assert.equal(run.run.status, "COMPLETED");
    assert.equal(Object.keys(byRef(run, "join")!.output).length, 1);
    assert.deepEqual(byRef(run, "join")!.output["w_0"], { first: true });
  });

  it("terminated meanwhile, ends every branch made and makes no more", () => {
    const run = new ManualRun(dyn, new Map(), { items });
    const pending = continuation(run)!;
    const before = run.tasks.length;
    run.apply({ kind: "terminate", reason: "enough" });
    assert.equal(run.run.status, "TERMINATED");
    assert.ok(run.tasks.every((t) => t.status === "CANCELED"));
    // The continuation's answer comes late: nothing more is made.
    assert.equal(run.apply(pending).applied, false);
    assert.equal(run.tasks.length, before);
  });

  it("paused meanwhile, makes no more until resumed", () => {
    const run = new ManualRun(dyn, new Map(), { items });
    const pending = continuation(run)!;
    const before = run.tasks.length;
    run.apply({ kind: "pause" });
    assert.equal(run.apply(pending).applied, false);
    assert.equal(run.tasks.length, before);
    run.apply({ kind: "resume" });
    continueAll(run);
    assert.equal(branches(run).length, WIDTH);
    assert.equal(byRef(run, "join")!.status, "IN_PROGRESS");
  });

  it("retried after a branch failed meanwhile, starts the branches it lacks and joins them all", () => {
    const run = new ManualRun(dyn, new Map(), { items });
    report(run, branches(run)[3]!, "FAILED");
    assert.equal(run.run.status, "FAILED");
    assert.equal(byRef(run, "fork")!.status, "CANCELED");
    const made = branches(run).length;
    assert.ok(made < WIDTH);
    run.apply({ kind: "retry", resumeSubworkflowTasks: false });
    assert.equal(byRef(run, "fork")!.status, "IN_PROGRESS");
    continueAll(run);
    const latest = new Map(branches(run).map((t) => [t.ref, t]));
    assert.equal(latest.size, WIDTH);
    assert.equal(branches(run).length, WIDTH + made, "the branches made before each retried once, the rest made once");
    assert.equal((byRef(run, "join")!.input["joinOn"] as string[]).length, WIDTH);
    for (const task of latest.values()) report(run, task, "COMPLETED");
    assert.equal(run.run.status, "COMPLETED");
  });
});
