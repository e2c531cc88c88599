// The mixed load of the fault tests: Conductor JSON flows with forks, DO_WHILE
// loops, sub-workflows and retries, each with an output that can be computed
// from its input, so a run's end state can be checked exactly.
import type { BatonClient } from "@baton/client";
import { flowOf, oneLoop } from "../../support/flows.js";

/** Lease length of every task here: short, so a lost delivery comes back soon. */
export const LEASE_SECONDS = 2;

const taskDef = (name: string) => ({
  name,
  // Kills and lost leases count against retries: leave room for many.
  retryCount: 100,
  retryLogic: "FIXED",
  retryDelaySeconds: 0,
  responseTimeoutSeconds: LEASE_SECONDS,
  timeoutSeconds: 0,
  timeoutPolicy: "RETRY",
});

export const TASK_TYPES = ["f_add", "f_flaky", "f_fatal"] as const;
export const TASK_DEFS = TASK_TYPES.map(taskDef);

const add = (ref: string, v: string, d: string | number) => ({ name: "f_add", taskReferenceName: ref, type: "SIMPLE", inputParameters: { v, d } });

export const FLOWS = [
  flowOf(
    "fault_fork",
    [
      add("t1", "${workflow.input.x}", 1),
      {
        name: "fork",
        taskReferenceName: "fork",
        type: "FORK_JOIN",
        forkTasks: [
          [add("b1", "${t1.output.v}", 10)],
          [{ name: "f_flaky", taskReferenceName: "b2", type: "SIMPLE", inputParameters: { v: "${t1.output.v}", fails: "${workflow.input.fails}" } }],
          [add("b3", "${t1.output.v}", 100), add("b4", "${b3.output.v}", 1000)],
        ],
      },
      { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: ["b1", "b2", "b4"] },
      add("t2", "${b1.output.v}", "${b4.output.v}"),
    ],
    { r: "${t2.output.v}", f: "${b2.output.v}" },
  ),
  oneLoop(
    "fault_loop",
    {
      inputParameters: { n: "${workflow.input.n}" },
      loopCondition: "if ($.loop['iteration'] < $.n) { true; } else { false; }",
      loopOver: [
        add("l1", "${workflow.input.x}", "${loop.output.iteration}"),
        { name: "f_flaky", taskReferenceName: "l2", type: "SIMPLE", inputParameters: { v: "${l1.output.v}", fails: "${workflow.input.fails}" } },
      ],
    },
    { iterations: "${loop.output.iteration}", last: "${l2.output.v}" },
  ),
  flowOf("fault_child", [add("c1", "${workflow.input.x}", 5), add("c2", "${c1.output.v}", 5)], { v: "${c2.output.v}" }),
  flowOf(
    "fault_parent",
    [
      {
        name: "sub",
        taskReferenceName: "sub",
        type: "SUB_WORKFLOW",
        inputParameters: { x: "${workflow.input.x}" },
        subWorkflowParam: { name: "fault_child", version: 1 },
      },
      add("p2", "${sub.output.v}", 1),
    ],
    { r: "${p2.output.v}" },
  ),
  flowOf(
    "fault_fail",
    [add("t1", "${workflow.input.x}", 1), { name: "f_fatal", taskReferenceName: "t2", type: "SIMPLE", inputParameters: { v: "${t1.output.v}" } }],
    { r: "${t1.output.v}" },
  ),
];

export interface Planned {
  key: string;
  name: string;
  input: { x: number; fails?: number; n?: number };
  expect: { status: string; output?: Record<string, unknown>; failedRef?: string };
}

/** The i-th run of the mix: which flow, its input and what it must end with. */
export function plan(i: number, prefix: string): Planned {
  const x = i;
  const key = `${prefix}-${i}`;
  switch (i % 10) {
    case 0:
    case 1:
    case 2:
      return { key, name: "fault_fork", input: { x, fails: 0 }, expect: { status: "COMPLETED", output: { r: 2 * x + 1112, f: (x + 1) * 2 } } };
    case 3:
      return { key, name: "fault_fork", input: { x, fails: 2 }, expect: { status: "COMPLETED", output: { r: 2 * x + 1112, f: (x + 1) * 2 } } };
    case 4:
    case 5: {
      const n = 1 + (i % 3);
      return { key, name: "fault_loop", input: { x, n, fails: i % 2 }, expect: { status: "COMPLETED", output: { iterations: n, last: (x + n) * 2 } } };
    }
    case 6:
    case 7:
    case 8:
      return { key, name: "fault_parent", input: { x }, expect: { status: "COMPLETED", output: { r: x + 11 } } };
    default:
      return { key, name: "fault_fail", input: { x }, expect: { status: "FAILED", failedRef: "t2" } };
  }
}

/** The first `runs` runs of the mix, keyed `${prefix}-<i>`. */
export const planRuns = (runs: number, prefix: string): Planned[] => Array.from({ length: runs }, (_, i) => plan(i, prefix));

export async function registerFlows(client: BatonClient): Promise<void> {
  await client.registerTaskDefs(TASK_DEFS);
  for (const flow of FLOWS) await client.registerWorkflowDef(flow);
}
