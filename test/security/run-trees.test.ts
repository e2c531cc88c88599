// One start could make the server start runs without end (issue 14): a fork
// of sub-workflows of itself grows as width^depth long before the depth cap
// of 32, and a DO_WHILE of START_WORKFLOW, or a START_WORKFLOW of itself,
// starts runs that are nobody's children and had no bound at all. Probed on
// a quiet harness: a fork of three sub-workflows of itself made 2,000 runs in
// 15 s, and every other caller's start was refused as busy meanwhile. Now
// every run another run starts joins its tree, and a tree starts at most
// BATON_MAX_RUNS_PER_TREE runs beside its root (20 here): past that, the
// task that would start one fails FAILED_WITH_TERMINAL_ERROR, saying so.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import type { ConductorWorkflow } from "@baton/client";
import { serverOptionsFromEnv } from "@baton/server";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { flowOf, forkOfListedTasks } from "../support/flows.js";

const BOUND = 20;
const FULL = new RegExp(`has started ${BOUND} runs, the most one tree may .*BATON_MAX_RUNS_PER_TREE`);

let h: Harness;
let db: pg.Client;
/** The self-forking run of the first case. */
let forkRoot = "";
before(async () => {
  h = await startHarness({ server: { maxRunsPerTree: BOUND } });
  db = new pg.Client({ connectionString: h.databaseUrl });
  await db.connect();
  const sub = (ref: string, name: string) => ({ name: "sub", taskReferenceName: ref, type: "SUB_WORKFLOW", subWorkflowParam: { name } });
  const start = (ref: string, name: string) => ({
    name: "start",
    taskReferenceName: ref,
    type: "START_WORKFLOW",
    inputParameters: { startWorkflow: { name } },
  });
  await h.client.registerWorkflowDef(flowOf("idle", [{ name: "wait", taskReferenceName: "wait", type: "WAIT" }]));
  await h.client.registerWorkflowDef(flowOf("leaf", [{ name: "set", taskReferenceName: "set", type: "SET_VARIABLE", inputParameters: { done: true } }]));
  await h.client.registerWorkflowDef({
    ...flowOf("self_fork", [
      { name: "fork", taskReferenceName: "fork", type: "FORK_JOIN", forkTasks: [[sub("a", "self_fork")], [sub("b", "self_fork")]] },
      { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: ["a", "b"] },
    ]),
    failureWorkflow: "idle",
  });
  await h.client.registerWorkflowDef(
    flowOf("start_loop", [
      { name: "loop", taskReferenceName: "loop", type: "DO_WHILE", loopCondition: "true", inputParameters: {}, loopOver: [start("sw", "idle")] },
    ]),
  );
  await h.client.registerWorkflowDef(flowOf("self_start", [start("again", "self_start")]));
  await h.client.registerWorkflowDef(forkOfListedTasks("wide"));
  await h.client.registerWorkflowDef(flowOf("family", [sub("child", "leaf"), start("sibling", "leaf")]));
  await h.client.registerWorkflowDef(flowOf("nest_child", [sub("grandchild", "idle")]));
  await h.client.registerWorkflowDef(flowOf("nest", [sub("child", "nest_child")]));
  // Each run's EVENT task has a handler start another run of it.
  await h.client.registerWorkflowDef(flowOf("echo", [{ name: "ping", taskReferenceName: "ping", type: "EVENT", sink: "conductor" }]));
  await h.client.registerEventHandler({
    name: "echo_again",
    event: "conductor:echo:ping",
    active: true,
    actions: [{ action: "start_workflow", start_workflow: { name: "echo" } }],
  });
});
after(async () => {
  await db.end();
  await h.close();
});

/** Runs in the tree of `root`, beside it. */
async function treeRuns(root: string): Promise<{ id: string; name: string; status: string }[]> {
  const { rows } = await db.query("SELECT id, name, status FROM baton.runs WHERE extra->>'root' = $1", [root]);
  return rows as { id: string; name: string; status: string }[];
}

async function ended(id: string): Promise<ConductorWorkflow> {
  await h.settle();
  return eventually(
    () => h.client.getWorkflow(id, { includeTasks: true }),
    (run) => run.status !== "RUNNING",
    30_000,
  );
}

/** The tasks of `runs` that failed for their tree's bound. */
async function refusedTasks(runs: { id: string }[]) {
  const all = await Promise.all(runs.map((r) => h.client.getWorkflow(r.id, { includeTasks: true })));
  return all.flatMap((run) => run.tasks.filter((t) => t.status === "FAILED_WITH_TERMINAL_ERROR"));
}

describe("a run tree's bound", () => {
  it("a fork of sub-workflows of itself stops at the bound, failing the task that would pass it, and the root fails", async () => {
    const root = (forkRoot = await h.client.startWorkflow("self_fork", {}));
    const run = await ended(root);
    assert.equal(run.status, "FAILED");
    await h.settle();
    const runs = (await treeRuns(root)).filter((r) => r.name === "self_fork");
    assert.equal(runs.length, BOUND, "exactly the bound started beside the root");
    const refused = await refusedTasks(runs);
    assert.ok(refused.length > 0);
    for (const task of refused) {
      assert.equal(task.taskType, "SUB_WORKFLOW");
      assert.match(task.reasonForIncompletion ?? "", FULL);
    }
    assert.match(run.reasonForIncompletion ?? "", FULL);
  });

  it("the root's own failure workflow starts although its tree is full (the bound may be why it failed)", async () => {
    const root = await h.client.getWorkflow(forkRoot);
    const failureRun = root.output?.["conductor.failure_workflow"];
    assert.equal(typeof failureRun, "string");
    assert.equal((await h.client.getWorkflow(failureRun as string)).workflowName, "idle");
  });

  it("a DO_WHILE of START_WORKFLOW stops at the bound: the loop's START_WORKFLOW fails and ends the run", async () => {
    const root = await h.client.startWorkflow("start_loop", {});
    const run = await ended(root);
    assert.equal(run.status, "FAILED");
    const last = run.tasks[run.tasks.length - 1]!;
    assert.equal(last.taskType, "START_WORKFLOW");
    assert.equal(last.status, "FAILED_WITH_TERMINAL_ERROR");
    assert.match(last.reasonForIncompletion ?? "", FULL);
    assert.equal((await treeRuns(root)).length, BOUND);
  });

  it("a START_WORKFLOW of itself stops at the bound: the chain's last run fails", async () => {
    const root = await h.client.startWorkflow("self_start", {});
    await h.settle();
    const runs = await eventually(
      () => treeRuns(root),
      (rs) => rs.some((r) => r.status === "FAILED"),
      30_000,
    );
    assert.equal(runs.length, BOUND);
    assert.deepEqual(
      runs.filter((r) => r.status !== "COMPLETED").map((r) => r.status),
      ["FAILED"],
    );
    const [refused] = await refusedTasks(runs);
    assert.match(refused!.reasonForIncompletion ?? "", FULL);
  });

  it("a fork wider than the bound starts exactly the bound, the rest refused", async () => {
    const tasks = Array.from({ length: BOUND + 10 }, (_, i) => ({
      name: "sub",
      taskReferenceName: `s${i}`,
      type: "SUB_WORKFLOW",
      subWorkflowParam: { name: "idle" },
    }));
    const root = await h.client.startWorkflow("wide", { tasks });
    const run = await ended(root);
    assert.equal(run.status, "FAILED");
    assert.equal((await treeRuns(root)).length, BOUND);
    const { rows } = await db.query("SELECT started FROM baton.run_trees WHERE root_id = $1", [root]);
    assert.equal(rows[0].started, BOUND);
  });

  it("a loop through an event handler that starts the flow whose EVENT task published the event stops at the bound", async () => {
    const root = await h.client.startWorkflow("echo", {});
    await eventually(
      async () => {
        await h.settle();
        return treeRuns(root);
      },
      (rs) => rs.length >= BOUND,
      30_000,
    );
    // The next start is refused: however often the handlers are drained, the tree stays at the bound.
    for (let i = 0; i < 5; i++) await h.settle();
    assert.equal((await treeRuns(root)).length, BOUND);
    const { rows } = await db.query("SELECT count(*)::int AS n FROM baton.events");
    assert.equal(rows[0].n, 0, "the last event was handled (its start refused), not left to come back");
  });

  it("sub-workflows and START_WORKFLOW within the bound are untouched, and join their root's tree", async () => {
    const root = await h.client.startWorkflow("family", {});
    const run = await ended(root);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(
      run.tasks.map((t) => [t.referenceTaskName, t.status]),
      [
        ["child", "COMPLETED"],
        ["sibling", "COMPLETED"],
      ],
    );
    await h.settle();
    const runs = await treeRuns(root);
    assert.deepEqual(
      runs.map((r) => [r.name, r.status]),
      [
        ["leaf", "COMPLETED"],
        ["leaf", "COMPLETED"],
      ],
    );
  });

  it("a child restarted stays in its root's tree at its depth: the runs it starts count there, and its nesting goes on", async () => {
    const root = await h.client.startWorkflow("nest", {});
    await h.settle();
    const child = await eventually(
      async () => (await treeRuns(root)).find((r) => r.name === "nest_child")?.id ?? "",
      (id) => id !== "",
    );
    const marks = async () =>
      (await db.query("SELECT extra->>'root' AS root, (extra->>'depth')::int AS depth FROM baton.runs WHERE id = $1", [child])).rows[0] as {
        root: string | null;
        depth: number | null;
      };
    assert.deepEqual(await marks(), { root, depth: 1 });
    await h.client.terminateWorkflow(child, "test");
    await h.client.restartWorkflow(child);
    await h.settle();
    assert.deepEqual(await marks(), { root, depth: 1 }, "restarted: still in the tree, one level down");
    // Its own child (started again by the restart) joins the same tree, two levels down.
    const grandchildren = await eventually(
      async () => (await treeRuns(root)).filter((r) => r.name === "idle"),
      (runs) => runs.length === 2,
    );
    const depths = await db.query("SELECT (extra->>'depth')::int AS depth FROM baton.runs WHERE id = ANY($1) ORDER BY 1", [grandchildren.map((r) => r.id)]);
    assert.deepEqual(
      depths.rows.map((r) => r.depth),
      [2, 2],
    );
  });

  it("BATON_MAX_RUNS_PER_TREE must be a positive whole number", () => {
    assert.equal(serverOptionsFromEnv({ BATON_MAX_RUNS_PER_TREE: "500" }).maxRunsPerTree, 500);
    for (const bad of ["0", "-1", "1.5", "many", "9999999999"]) {
      assert.throws(() => serverOptionsFromEnv({ BATON_MAX_RUNS_PER_TREE: bad }), /BATON_MAX_RUNS_PER_TREE must be a positive whole number/);
    }
  });
});
