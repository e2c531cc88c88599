// The sub-workflow scenario: parents that each fork N SUB_WORKFLOW children
// of a few worker tasks, a few parents at a time. Child runs are started on
// the transaction path (an outbox item each, carried out after the parent's
// commit; no start slot, a count in their run tree), which the other
// scenarios never take. Reports parents and children per second, how long a
// child waits from its SUB_WORKFLOW task's scheduling to its run existing,
// and the dispatch latency of an independent one-task flow (its own task
// type and worker) started one at a time, alone and while the parents run.
// Baton alone: the peers' harness has no sub-workflows.
import type { BatonClient } from "@baton/client";
import { FANOUT, noopWorkers, type ServerProcess } from "../lib/baton.js";
import type { BenchOptions } from "../lib/types.js";
import { anchorWallClock, distribution, nowMs, pool, round, until } from "../lib/util.js";

const STEP = "bench_sub_step";
const SMALL_TYPE = "bench_sub_small";
const CHILD = {
  name: "bench_sub_child",
  version: 1,
  schemaVersion: 2,
  tasks: ["s1", "s2", "s3"].map((ref) => ({ name: STEP, taskReferenceName: ref, type: "SIMPLE", inputParameters: { n: "${workflow.input.n}" } })),
};
/** The bench's fan-out flow (a dynamic fork of the input's tasks, then its join), its tasks here SUB_WORKFLOW children. */
const PARENT = { ...FANOUT, name: "bench_sub_parent" };
const SMALL = {
  name: "bench_sub_small",
  version: 1,
  schemaVersion: 2,
  tasks: [{ name: SMALL_TYPE, taskReferenceName: "work", type: "SIMPLE", inputParameters: { n: "${workflow.input.n}" } }],
};
/** The tree leg: one key's parent forks a tree of one-task children, of the type another key's small flow also runs. */
const TREE_TYPE = "bench_sub_fair";
const TREE_CHILD = {
  name: "bench_sub_tree_child",
  version: 1,
  schemaVersion: 2,
  tasks: [{ name: TREE_TYPE, taskReferenceName: "work", type: "SIMPLE", inputParameters: { n: "${workflow.input.n}" } }],
};
const TREE_PARENT = { ...PARENT, name: "bench_sub_tree", fairnessKey: "${workflow.input.tenant}" };
const KEYED_SMALL = {
  name: "bench_sub_keyed",
  version: 1,
  schemaVersion: 2,
  fairnessKey: "${workflow.input.tenant}",
  tasks: [{ name: TREE_TYPE, taskReferenceName: "work", type: "SIMPLE", inputParameters: { n: "${workflow.input.n}" } }],
};
/** Parents in flight at once. */
const PARENTS_IN_FLIGHT = 8;
/** Parents whose children's start lag is read back after the load (one GetWorkflow per child). */
const SAMPLED_PARENTS = 5;

function parentInput(children: number, child = CHILD.name) {
  const dynamicTasks = Array.from({ length: children }, (_, i) => ({
    name: child,
    taskReferenceName: `child_${i}`,
    type: "SUB_WORKFLOW",
    subWorkflowParam: { name: child, version: 1 },
  }));
  const dynamicTasksInput = Object.fromEntries(dynamicTasks.map((t, i) => [t.taskReferenceName, { n: i }]));
  return { dynamicTasks, dynamicTasksInput };
}

interface SubEnv {
  deadline: number;
  servers: ServerProcess[];
  clients: BatonClient[];
}

export function subworkflowsBody(options: BenchOptions) {
  return async (env: SubEnv) => {
    const load = await parentsLeg(options, env);
    const tree = await treeLeg(options, env);
    return {
      ...load,
      metrics: { ...load.metrics, ...tree.metrics },
      details: { ...load.details, tree: tree.details },
      ...(load.status ? {} : tree.status ? { status: tree.status, reason: tree.reason } : {}),
    };
  };
}

/**
 * One key's parent forks `counts.subTree` children (its tree's bound is
 * 10,000) while another key starts its small flow's 100 runs, 8 at a time,
 * on the same task type and workers: the small key's dispatch latency alone
 * and while the tree's children run (goal: within 2x, as the fairness
 * scenario's), and the tree's time to its end.
 */
async function treeLeg(options: BenchOptions, env: SubEnv) {
  const { counts, log } = options;
  const client = env.clients[0]!;
  const address = env.servers[0]!.address;
  const left = () => Math.round(Math.max(1000, env.deadline - nowMs()));
  await client.registerTaskDefs([{ name: TREE_TYPE, retryCount: 0, responseTimeoutSeconds: 600 }]);
  for (const def of [TREE_CHILD, TREE_PARENT, KEYED_SMALL]) await client.registerWorkflowDef(def);
  const stamps = { received: new Map<string, number>(), returned: new Map<string, number>() };
  const workers = noopWorkers(address, { concurrency: counts.concurrency, workerId: "bench-sub-tree", types: [TREE_TYPE], stamps });
  const smallKey = async (tag: string) => {
    anchorWallClock();
    const startCalls: number[] = [];
    const ids = await pool(counts.fairnessSmall, 8, async (i) => {
      const t = nowMs();
      const id = await client.startWorkflow(KEYED_SMALL.name, { tenant: `small-${tag}`, n: i });
      startCalls.push(nowMs() - t);
      return id;
    });
    const runs = await Promise.all(ids.map((id) => client.waitWorkflow(id, left(), true)));
    const latency: number[] = [];
    const toClaim: number[] = [];
    const toWorker: number[] = [];
    let handedOff = 0;
    for (const run of runs)
      for (const t of run.tasks) {
        const held = stamps.received.get(t.taskId);
        if (t.startTime === t.scheduledTime) handedOff++;
        if (held === undefined) continue;
        latency.push(held - (t.scheduledTime + 0.5));
        toClaim.push(t.startTime - t.scheduledTime);
        toWorker.push(held - (t.startTime + 0.5));
      }
    return { latency, toClaim, toWorker, handedOff, startCalls };
  };
  try {
    await smallKey("warm");
    const alone = await smallKey("alone");
    log(`  one key's tree of ${counts.subTree} children beside another key's ${counts.fairnessSmall} runs`);
    const handled = () => workers.counts.get(TREE_TYPE) ?? 0;
    const before = handled();
    const t0 = nowMs();
    // The parent's start is answered once its children are started: not waited for here.
    // No input per child: 10,000 names of children's inputs are past the server's limit of distinct key names.
    const root = client.startWorkflow(TREE_PARENT.name, { tenant: "big", ...parentInput(counts.subTree, TREE_CHILD.name), dynamicTasksInput: {} });
    // Awaited below; a refusal meanwhile must not go unhandled.
    root.catch(() => {});
    // Under way: the tree's children hold the workers.
    await until(() => handled() - before >= counts.concurrency, left(), 5);
    const underTree = await smallKey("tree");
    const rootId = await root;
    let status = "RUNNING";
    while (status === "RUNNING" && nowMs() < env.deadline) {
      try {
        status = (await client.waitWorkflow(rootId, Math.min(10_000, left()), false)).status;
      } catch (error) {
        if ((error as { code?: number }).code !== 4) throw error;
      }
    }
    const seconds = (nowMs() - t0) / 1000;
    const a = distribution(alone.latency);
    const b = distribution(underTree.latency);
    return {
      metrics: {
        treeSmallAloneP50Ms: a.p50,
        treeSmallAloneP99Ms: a.p99,
        treeSmallUnderTreeP50Ms: b.p50,
        treeSmallUnderTreeP99Ms: b.p99,
        treeP50Ratio: round(b.p50 / a.p50, 2),
        treeP99Ratio: round(b.p99 / a.p99, 2),
        treeChildrenPerSecond: round(counts.subTree / seconds, 1),
      },
      details: {
        children: counts.subTree,
        seconds: round(seconds, 2),
        alone: a,
        underTree: b,
        aloneToClaim: distribution(alone.toClaim),
        underTreeToClaim: distribution(underTree.toClaim),
        aloneToWorker: distribution(alone.toWorker),
        underTreeToWorker: distribution(underTree.toWorker),
        // The small key's start calls, from the call to its answer.
        aloneStartCalls: distribution(alone.startCalls),
        underTreeStartCalls: distribution(underTree.startCalls),
        aloneHandedOff: alone.handedOff,
        underTreeHandedOff: underTree.handedOff,
      },
      ...(status !== "COMPLETED" ? { status: "partial" as const, reason: `the tree's root ended ${status}` } : {}),
    };
  } finally {
    await workers.stop();
  }
}

/** Parents forking children, a few at a time, beside an independent flow started one run at a time. */
async function parentsLeg(options: BenchOptions, env: SubEnv) {
  const { counts, log } = options;
  const parents = counts.subParents;
  const children = counts.subChildren;
  const client = env.clients[0]!;
  const address = env.servers[0]!.address;
  const left = () => Math.round(Math.max(1000, env.deadline - nowMs()));
  await client.registerTaskDefs([STEP, SMALL_TYPE].map((name) => ({ name, retryCount: 0, responseTimeoutSeconds: 600 })));
  for (const def of [CHILD, PARENT, SMALL]) await client.registerWorkflowDef(def);

  const stamps = { received: new Map<string, number>(), returned: new Map<string, number>() };
  const steps = noopWorkers(address, { concurrency: counts.concurrency, workerId: "bench-sub-steps", types: [STEP] });
  const small = noopWorkers(address, { concurrency: 1, workerId: "bench-sub-small", types: [SMALL_TYPE], stamps });
  /** The small flow, one run at a time until `stop()` (or `runs` runs): each task's ready -> held. */
  const smallFlow = async (stop: () => boolean, runs = Number.POSITIVE_INFINITY) => {
    const latency: number[] = [];
    for (let i = 0; i < runs && !stop() && nowMs() < env.deadline; i++) {
      anchorWallClock();
      const id = await client.startWorkflow(SMALL.name, { n: i });
      const run = await client.waitWorkflow(id, left(), true);
      for (const t of run.tasks) {
        const held = stamps.received.get(t.taskId);
        if (held !== undefined) latency.push(held - (t.scheduledTime + 0.5));
      }
    }
    return latency;
  };
  try {
    // Warm-up, unmeasured: two parents of a few children, and the small flow.
    await pool(2, 2, async () => client.waitWorkflow(await client.startWorkflow(PARENT.name, parentInput(4)), left(), false));
    await smallFlow(() => false, 10);
    const alone = await smallFlow(() => false, counts.fairnessSmall);

    log(`  ${parents} parents of ${children} children each, ${PARENTS_IN_FLIGHT} at a time`);
    const input = parentInput(children);
    const parentIds: string[] = [];
    let done = false;
    let completed = 0;
    const stepsBefore = steps.counts.get(STEP) ?? 0;
    const t0 = nowMs();
    const during = smallFlow(() => done);
    try {
      await pool(parents, PARENTS_IN_FLIGHT, async () => {
        if (nowMs() > env.deadline) return;
        const id = await client.startWorkflow(PARENT.name, input);
        parentIds.push(id);
        let status = "RUNNING";
        while (status === "RUNNING" && nowMs() < env.deadline) {
          try {
            status = (await client.waitWorkflow(id, Math.min(10_000, left()), false)).status;
          } catch (error) {
            // A server too busy to answer within the wait's deadline: the run goes on; ask again.
            if ((error as { code?: number }).code !== 4) throw error;
          }
        }
        if (status === "COMPLETED") completed++;
        else if (status !== "RUNNING") throw new Error(`parent ${id} ended ${status}`);
      });
    } finally {
      done = true;
    }
    const seconds = (nowMs() - t0) / 1000;
    const underLoad = await during;
    const childTasks = (steps.counts.get(STEP) ?? 0) - stepsBefore;

    // A child's start lag: its SUB_WORKFLOW task scheduled -> its run created (server clock, both).
    const lag: number[] = [];
    const spread: number[] = [];
    for (const id of parentIds.slice(0, SAMPLED_PARENTS)) {
      const parent = await client.getWorkflow(id, { includeTasks: true });
      const subs = parent.tasks.filter((t) => t.taskType === "SUB_WORKFLOW" && t.subWorkflowId);
      const created = await pool(subs.length, 16, async (i) => (await client.getWorkflow(subs[i]!.subWorkflowId!)).createTime);
      subs.forEach((t, i) => lag.push(created[i]! - t.scheduledTime));
      const fork = Math.min(...subs.map((t) => t.scheduledTime));
      if (subs.length) spread.push(Math.max(...created) - fork);
    }
    const a = distribution(alone);
    const b = distribution(underLoad);
    const l = distribution(lag);
    return {
      metrics: {
        parentsPerSecond: round(completed / seconds, 2),
        childrenPerSecond: round((completed * children) / seconds, 1),
        childTasksPerSecond: round(childTasks / seconds, 0),
        childStartLagP50Ms: l.p50,
        childStartLagP99Ms: l.p99,
        smallAloneP50Ms: a.p50,
        smallAloneP99Ms: a.p99,
        smallUnderLoadP50Ms: b.p50,
        smallUnderLoadP99Ms: b.p99,
        p50Ratio: round(b.p50 / a.p50, 2),
        p99Ratio: round(b.p99 / a.p99, 2),
      },
      details: {
        parents,
        childrenPerParent: children,
        parentsInFlight: PARENTS_IN_FLIGHT,
        completedParents: completed,
        seconds: round(seconds, 2),
        childTasks,
        smallAlone: a,
        smallUnderLoad: b,
        childStartLag: l,
        // Fork scheduled -> the last of its children created, per sampled parent.
        forkToLastChildMs: distribution(spread),
      },
      ...(completed < parents ? { status: "partial" as const, reason: `${completed} of ${parents} parents completed before the deadline` } : {}),
    };
  } finally {
    await Promise.all([steps.stop(), small.stop()]);
  }
}
