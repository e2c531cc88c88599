// Steps and where they live. A step created inside a flow body is appended to the
// list being built (the flow's, or a branch's when the branch is a callback); a step
// passed in a list (fork branch, switch case, loop body) is moved there.
import type { TaskDef } from "../def.js";
import { errorAt, type Diagnostic } from "./diagnostics.js";
import { callerLocation, type SourceLocation } from "./location.js";
import { refAt, type Ref } from "./ref.js";

/** Build-time state of one flow: names taken and problems seen while building. */
export interface BuildState {
  usedRefs: Set<string>;
  diagnostics: Diagnostic[];
}

/** Everything the compiler needs to emit one WorkflowTask. */
export interface StepNode {
  ref: string;
  name: string;
  type: string;
  /** WorkflowTask fields other than nested task lists; may hold Refs. */
  fields: Record<string, unknown>;
  forkTasks?: StepNode[][];
  decisionCases?: [string, StepNode[]][];
  defaultCase?: StepNode[];
  loopOver?: StepNode[];
  location: SourceLocation | undefined;
  /** The TaskDef declared with taskType(), registered alongside the flow. */
  taskDef?: TaskDef;
  /** A worker task named without a taskType() declaration (BATON106 unless the server knows it). */
  undeclared?: boolean;
  /** For a JOIN: the branches of its fork and the steps it waits on (BATON104). */
  join?: { branches: StepNode[][]; on: StepNode[] };
  /** Definitions of inline sub-workflows, whose task defs register with this flow. */
  inlineTaskDefs?: () => TaskDef[];
  /** The list that holds the step now; claimed once it was placed on purpose. */
  owner: StepNode[] | undefined;
  claimed: boolean;
}

const nodes = new WeakMap<object, StepNode>();

/** A step of a flow: its reference name and typed handles to its input and output. */
export class Step<O = unknown, I = unknown> {
  readonly ref: string;
  readonly type: string;
  /** `${<ref>.output}`, typed as the step's output. */
  readonly output: Ref<O>;
  /** `${<ref>.input}`, typed as the step's input. */
  readonly input: Ref<I>;

  constructor(node: StepNode) {
    this.ref = node.ref;
    this.type = node.type;
    this.output = refAt<O>(`${node.ref}.output`);
    this.input = refAt<I>(`${node.ref}.input`);
    nodes.set(this, node);
  }
}

export type AnyStep = Step<any, any>;

/** The steps of a branch, case or loop body: a list of steps, or a callback that creates them. */
export type StepList = readonly AnyStep[] | (() => unknown);

export function nodeOf(step: AnyStep): StepNode {
  const node = nodes.get(step);
  if (!node) throw new TypeError("not a Baton step");
  return node;
}

interface Scope {
  items: StepNode[];
  build: BuildState;
}

// Flow bodies run synchronously, so the list being built is a stack, not context.
const scopes: Scope[] = [];

export function currentBuild(): BuildState | undefined {
  return scopes.at(-1)?.build;
}

/** Runs fn with a fresh list as the target of new steps, and returns that list. */
export function collect(build: BuildState, fn: () => unknown): { items: StepNode[]; result: unknown } {
  const scope: Scope = { items: [], build };
  scopes.push(scope);
  try {
    return { items: scope.items, result: fn() };
  } finally {
    scopes.pop();
  }
}

export interface NewStep {
  /** An explicit reference name; derived from `base` when absent. */
  ref: string | undefined;
  base: string;
  name: string;
  type: string;
  fields: Record<string, unknown>;
}

/** A unique name from `base`: base, base_2, base_3, ... in creation order. */
function deriveRef(build: BuildState | undefined, base: string): string {
  if (!build?.usedRefs.has(base)) return base;
  for (let i = 2; ; i++) if (!build.usedRefs.has(`${base}_${i}`)) return `${base}_${i}`;
}

export function createNode(spec: NewStep, extra: Partial<StepNode> = {}): StepNode {
  const scope = scopes.at(-1);
  const ref = spec.ref ?? deriveRef(scope?.build, spec.base);
  scope?.build.usedRefs.add(ref);
  const node: StepNode = {
    ref,
    name: spec.name,
    type: spec.type,
    fields: spec.fields,
    location: callerLocation(),
    owner: scope?.items,
    claimed: false,
    ...extra,
  };
  scope?.items.push(node);
  return node;
}

export function createStep<O, I = unknown>(spec: NewStep, extra: Partial<StepNode> = {}): Step<O, I> {
  return new Step<O, I>(createNode(spec, extra));
}

/** Takes the steps of a list out of wherever they were and returns them in order. */
export function claim(list: StepList): StepNode[] {
  const build = currentBuild() ?? { usedRefs: new Set<string>(), diagnostics: [] };
  if (typeof list === "function") {
    const { items, result } = collect(build, list);
    if (result instanceof Promise) {
      build.diagnostics.push(errorAt("BATON108", "a branch callback must be synchronous: it declares steps, it does not run them", "", callerLocation()));
    }
    for (const n of items) n.claimed = true;
    return items;
  }
  const out: StepNode[] = [];
  for (const step of list) {
    const node = nodeOf(step);
    if (node.claimed) {
      build.diagnostics.push(errorAt("BATON107", `step "${node.ref}" is already placed in another branch, case or loop`, "", callerLocation()));
      continue;
    }
    if (node.owner) node.owner.splice(node.owner.indexOf(node), 1);
    node.claimed = true;
    out.push(node);
  }
  return out;
}

/** Appends steps created outside any flow body to the list being built. */
export function place(steps: readonly AnyStep[]): void {
  const scope = scopes.at(-1);
  for (const node of claim(steps)) {
    node.owner = scope?.items;
    scope?.items.push(node);
  }
}
