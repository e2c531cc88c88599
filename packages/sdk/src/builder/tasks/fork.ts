// FORK_JOIN and FORK_JOIN_DYNAMIC, each with the JOIN that follows it.
import type { JsonObject } from "../../def.js";
import { optionFields, type StepOptions } from "../options.js";
import { claim, createNode, createStep, nodeOf, Step, type AnyStep, type StepList, type StepNode } from "../step.js";
import type { TaskStub } from "../task-type.js";
import type { Value } from "../value.js";

export interface JoinOptions {
  ref?: string;
  /** Conductor's joinMode (SYNC or ASYNC). */
  mode?: string;
}

export interface ForkSpec extends StepOptions {
  /** One list of steps per branch, run in parallel. */
  branches: readonly StepList[];
  /** What the JOIN waits on; by default the tail of every branch. */
  joinOn?: readonly AnyStep[];
  join?: JoinOptions;
}

/** A fork; its `join` completes when the branches do, with their outputs keyed by reference name. */
export interface Fork<J = Record<string, unknown>> extends Step<Record<string, never>> {
  readonly join: Step<J>;
}

function withJoin<J>(fork: StepNode, join: JoinOptions | undefined, waits: StepNode[], branches: StepNode[][]): Fork<J> {
  const joinStep = createStep<J>(
    {
      ref: join?.ref,
      base: `${fork.ref}_join`,
      name: "join",
      type: "JOIN",
      fields: { joinOn: waits.map((n) => n.ref), joinMode: join?.mode },
    },
    { join: { branches, on: waits } },
  );
  return Object.assign(new Step<Record<string, never>>(fork), { join: joinStep });
}

export function fork(spec: ForkSpec): Fork {
  const branches = spec.branches.map(claim);
  const node = createNode({ ref: spec.ref, base: "fork", name: "fork", type: "FORK_JOIN", fields: optionFields(spec) }, { forkTasks: branches });
  const tails = branches.map((b) => b.at(-1)).filter((n) => n !== undefined);
  const waits = spec.joinOn ? spec.joinOn.map(nodeOf) : tails;
  return withJoin(node, spec.join, waits, branches);
}

/** One task per element of `inputs`, all of the same declared type. */
export interface ForEachSpec<I extends object, O> extends StepOptions {
  task: TaskStub<I, O>;
  inputs: Value<I[]>;
  join?: JoinOptions;
}

/** Tasks and their inputs computed at run time, as Conductor's dynamicTasks / dynamicTasksInput. */
export interface DynamicTasksSpec extends StepOptions {
  /** [{ name, taskReferenceName, type? }, ...] */
  tasks: Value<{ name: string; taskReferenceName: string; type?: string }[]>;
  /** Input per taskReferenceName. */
  inputs: Value<Record<string, JsonObject>>;
  join?: JoinOptions;
}

export function dynamicFork<I extends object, O>(spec: ForEachSpec<I, O>): Fork<Record<string, O>>;
export function dynamicFork(spec: DynamicTasksSpec): Fork;
export function dynamicFork(spec: ForEachSpec<object, unknown> | DynamicTasksSpec): Fork<unknown> {
  const fields =
    "task" in spec
      ? { inputParameters: { forkTaskName: spec.task.name, forkTaskInputs: spec.inputs } }
      : {
          inputParameters: { dynamicTasks: spec.tasks, dynamicTasksInput: spec.inputs },
          dynamicForkTasksParam: "dynamicTasks",
          dynamicForkTasksInputParamName: "dynamicTasksInput",
        };
  const node = createNode(
    { ref: spec.ref, base: "dynamic_fork", name: "dynamic_fork", type: "FORK_JOIN_DYNAMIC", fields: { ...fields, ...optionFields(spec) } },
    "task" in spec ? { taskDef: spec.task.def } : {},
  );
  return withJoin(node, spec.join, [], []);
}
