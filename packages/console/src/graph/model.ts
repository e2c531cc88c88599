// A run's graph, from its definition (Conductor's WorkflowDef JSON) and its
// task instances: one node per step of the definition, not per instance, so
// a 10,000-branch dynamic fork is one grouped node with per-status counts and
// a loop is one frame with an iteration picker. Layout is done elsewhere.

/** The fields of a task instance the graph reads (the proto's Task). */
export interface Instance {
  taskId: string;
  referenceTaskName: string;
  taskType: string;
  status: string;
  seq: number;
  iteration: number;
  subWorkflowId: string;
  outputJson: string;
}

interface WorkflowTask {
  name?: string;
  taskReferenceName: string;
  type?: string;
  forkTasks?: WorkflowTask[][];
  decisionCases?: Record<string, WorkflowTask[]>;
  defaultCase?: WorkflowTask[];
  loopOver?: WorkflowTask[];
  subWorkflowParam?: { name?: string; version?: number };
}

export interface WorkflowDefJson {
  name?: string;
  version?: number;
  tasks?: WorkflowTask[];
}

/** What a node shows: its latest attempt's status, or why it has none. */
export type NodeState = string | "PENDING" | "NOT_TAKEN";

export interface GraphNode {
  id: string;
  kind: "start" | "end" | "task" | "dynamic";
  label: string;
  sublabel: string;
  type: string;
  ref: string;
  state: NodeState;
  /** Instances of this step in the selected loop iteration, oldest first (attempts). */
  instances: Instance[];
  /** The loop frame it sits in, if any. */
  loop?: string;
  /** Dynamic fork groups: how many branches per status. */
  counts?: Record<string, number>;
  /** A SWITCH's taken case. */
  taken?: string;
}

export interface GraphEdge {
  from: string;
  to: string;
  label?: string;
  /** Both ends ran (the path taken). */
  taken: boolean;
  /** The case a switch took. */
  chosen?: boolean;
}

export interface LoopFrame {
  id: string;
  ref: string;
  parent?: string;
  /** Iterations so far (1 at least once the loop ran). */
  iterations: number;
  selected: number;
}

export interface RunGraph {
  nodes: GraphNode[];
  edges: GraphEdge[];
  loops: LoopFrame[];
}

/** A task instance's step reference: loop iterations carry a "__<n>" suffix. */
export function baseRef(task: Pick<Instance, "referenceTaskName" | "iteration">): string {
  const suffix = `__${task.iteration}`;
  return task.iteration > 0 && task.referenceTaskName.endsWith(suffix) ? task.referenceTaskName.slice(0, -suffix.length) : task.referenceTaskName;
}

const TERMINAL = new Set(["COMPLETED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT", "CANCELED", "SKIPPED", "COMPLETED_WITH_ERRORS"]);

function parse(json: string): Record<string, unknown> {
  try {
    const value = JSON.parse(json || "{}");
    return value && typeof value === "object" ? value : {};
  } catch {
    return {};
  }
}

/**
 * Builds the graph. `selected` picks each loop's iteration (by loop ref;
 * default: the latest). Once the run ended, steps never reached are "not taken".
 */
export function buildGraph(def: WorkflowDefJson, instances: Instance[], runStatus: string, selected: Record<string, number> = {}): RunGraph {
  const runEnded = runStatus !== "RUNNING" && runStatus !== "PAUSED";
  const nodes: GraphNode[] = [];
  const edges: GraphEdge[] = [];
  const loops: LoopFrame[] = [];
  const byRef = new Map<string, Instance[]>();
  const known = new Set<string>();
  const collect = (list: WorkflowTask[] | undefined) => {
    for (const t of list ?? []) {
      known.add(t.taskReferenceName);
      t.forkTasks?.forEach(collect);
      Object.values(t.decisionCases ?? {}).forEach(collect);
      collect(t.defaultCase);
      collect(t.loopOver);
    }
  };
  collect(def.tasks);
  const sorted = [...instances].sort((a, b) => a.seq - b.seq);
  // Dynamic fork branches: instances of no step in the definition, grouped
  // under the dynamic fork that precedes them.
  const dynamicOf = new Map<string, Instance[]>();
  let lastDynamic: string | undefined;
  for (const t of sorted) {
    const ref = baseRef(t);
    if (t.taskType === "FORK_JOIN_DYNAMIC" || t.taskType === "FORK") lastDynamic = ref;
    if (known.has(ref)) {
      const list = byRef.get(ref);
      if (list) list.push(t);
      else byRef.set(ref, [t]);
    } else if (lastDynamic !== undefined) {
      const list = dynamicOf.get(lastDynamic);
      if (list) list.push(t);
      else dynamicOf.set(lastDynamic, [t]);
    }
  }

  const iterationOf = (loop: string | undefined): number | undefined => (loop ? loops.find((l) => l.id === loop)?.selected : undefined);

  /** Instances of a step in its loop's selected iteration. */
  const instancesOf = (ref: string, loop: string | undefined) => {
    const all = byRef.get(ref) ?? [];
    const iteration = iterationOf(loop);
    return iteration === undefined ? all : all.filter((t) => t.iteration === iteration);
  };

  const stateOf = (list: Instance[], notTaken: boolean): NodeState => {
    const latest = list[list.length - 1];
    if (latest) return latest.status;
    return notTaken || runEnded ? "NOT_TAKEN" : "PENDING";
  };

  /** Adds a chain of steps; returns its entry and exit node ids. */
  const chain = (list: WorkflowTask[], loop: string | undefined, notTaken: boolean): { entry: string[]; exit: string[] } => {
    let entry: string[] = [];
    let exit: string[] = [];
    for (const step of list) {
      const part = add(step, loop, notTaken);
      if (entry.length === 0) entry = part.entry;
      else for (const from of exit) for (const to of part.entry) edges.push({ from, to, taken: false });
      exit = part.exit;
    }
    return { entry, exit };
  };

  const node = (step: WorkflowTask, loop: string | undefined, notTaken: boolean, list = instancesOf(step.taskReferenceName, loop)): GraphNode => {
    const type = step.type ?? "SIMPLE";
    const n: GraphNode = {
      id: `${loop ?? ""}/${step.taskReferenceName}`,
      kind: "task",
      label: step.taskReferenceName,
      sublabel: type === "SIMPLE" ? (step.name ?? "") : type === "SUB_WORKFLOW" ? `SUB_WORKFLOW ${step.subWorkflowParam?.name ?? ""}` : type,
      type,
      ref: step.taskReferenceName,
      state: stateOf(list, notTaken),
      instances: list,
      ...(loop ? { loop } : {}),
    };
    nodes.push(n);
    return n;
  };

  const add = (step: WorkflowTask, loop: string | undefined, notTaken: boolean): { entry: string[]; exit: string[] } => {
    const type = step.type ?? "SIMPLE";
    if (type === "FORK_JOIN") {
      const fork = node(step, loop, notTaken);
      const exit: string[] = [];
      for (const branch of step.forkTasks ?? []) {
        if (branch.length === 0) continue;
        const part = chain(branch, loop, notTaken);
        for (const to of part.entry) edges.push({ from: fork.id, to, taken: false });
        exit.push(...part.exit);
      }
      return { entry: [fork.id], exit: exit.length > 0 ? exit : [fork.id] };
    }
    if (type === "SWITCH" || type === "DECISION") {
      const sw = node(step, loop, notTaken);
      const output = parse(sw.instances[sw.instances.length - 1]?.outputJson ?? "");
      const result = (output["evaluationResult"] ?? output["caseOutput"]) as unknown[] | undefined;
      const ran = sw.instances.some((t) => TERMINAL.has(t.status));
      const chosenKey = ran && Array.isArray(result) ? String(result[0]) : undefined;
      const cases = Object.entries(step.decisionCases ?? {});
      const takenCase = chosenKey !== undefined ? (cases.some(([k]) => k === chosenKey) ? chosenKey : "default") : undefined;
      if (takenCase !== undefined) sw.taken = takenCase;
      const exit: string[] = [];
      const branches: [string, WorkflowTask[]][] = [...cases, ["default", step.defaultCase ?? []]];
      for (const [label, branch] of branches) {
        const chosen = takenCase === label;
        const branchNotTaken = notTaken || (takenCase !== undefined && !chosen);
        if (branch.length === 0) {
          // An empty case goes straight on: the switch itself is its exit.
          if (label !== "default" || (step.defaultCase ?? []).length === 0) {
            if (!exit.includes(sw.id)) exit.push(sw.id);
          }
          continue;
        }
        const part = chain(branch, loop, branchNotTaken);
        for (const to of part.entry) edges.push({ from: sw.id, to, label, taken: false, chosen });
        exit.push(...part.exit);
      }
      return { entry: [sw.id], exit };
    }
    if (type === "DO_WHILE") {
      const list = instancesOf(step.taskReferenceName, loop);
      const frameId = `loop:${step.taskReferenceName}`;
      const bodyRefs = new Set<string>();
      const body = (l: WorkflowTask[] | undefined) =>
        (l ?? []).forEach((t) => {
          bodyRefs.add(t.taskReferenceName);
          t.forkTasks?.forEach(body);
          Object.values(t.decisionCases ?? {}).forEach(body);
          body(t.defaultCase);
        });
      body(step.loopOver);
      let iterations = 0;
      for (const ref of bodyRefs) for (const t of byRef.get(ref) ?? []) iterations = Math.max(iterations, t.iteration);
      const wanted = selected[step.taskReferenceName];
      const frame: LoopFrame = {
        id: frameId,
        ref: step.taskReferenceName,
        ...(loop ? { parent: loop } : {}),
        iterations,
        selected: wanted !== undefined && wanted >= 1 && wanted <= iterations ? wanted : iterations,
      };
      loops.push(frame);
      const head = node(step, frameId, notTaken, list);
      const part = chain(step.loopOver ?? [], frameId, notTaken);
      for (const to of part.entry) edges.push({ from: head.id, to, taken: false });
      return { entry: [head.id], exit: part.exit.length > 0 ? part.exit : [head.id] };
    }
    if (type === "FORK_JOIN_DYNAMIC") {
      const fork = node(step, loop, notTaken);
      const branches = (dynamicOf.get(step.taskReferenceName) ?? []).filter((t) => iterationOf(loop) === undefined || t.iteration === iterationOf(loop));
      // The latest attempt of each branch decides its status.
      const latest = new Map<string, Instance>();
      for (const t of branches) latest.set(t.referenceTaskName, t);
      const counts: Record<string, number> = {};
      for (const t of latest.values()) counts[t.status] = (counts[t.status] ?? 0) + 1;
      const worst = [
        "FAILED",
        "FAILED_WITH_TERMINAL_ERROR",
        "TIMED_OUT",
        "IN_PROGRESS",
        "SCHEDULED",
        "CANCELED",
        "COMPLETED_WITH_ERRORS",
        "SKIPPED",
        "COMPLETED",
      ].find((s) => counts[s]);
      const group: GraphNode = {
        id: `${loop ?? ""}/${step.taskReferenceName}#branches`,
        kind: "dynamic",
        label: `${latest.size.toLocaleString("en-US")} branch${latest.size === 1 ? "" : "es"}`,
        sublabel: "dynamic fork",
        type: "DYNAMIC_BRANCHES",
        ref: step.taskReferenceName,
        state: worst ?? stateOf([], notTaken),
        instances: branches,
        counts,
        ...(loop ? { loop } : {}),
      };
      nodes.push(group);
      edges.push({ from: fork.id, to: group.id, taken: false });
      return { entry: [fork.id], exit: [group.id] };
    }
    const n = node(step, loop, notTaken);
    return { entry: [n.id], exit: [n.id] };
  };

  const start: GraphNode = {
    id: "start",
    kind: "start",
    label: "start",
    sublabel: "",
    type: "START",
    ref: "",
    state: instances.length > 0 ? "COMPLETED" : "PENDING",
    instances: [],
  };
  nodes.push(start);
  const body = chain(def.tasks ?? [], undefined, false);
  const end: GraphNode = { id: "end", kind: "end", label: "end", sublabel: "", type: "END", ref: "", state: runEnded ? runStatus : "PENDING", instances: [] };
  nodes.push(end);
  for (const to of body.entry) edges.push({ from: start.id, to, taken: false });
  for (const from of body.exit) edges.push({ from, to: end.id, taken: false });
  if (body.entry.length === 0) edges.push({ from: start.id, to: end.id, taken: false });

  // An edge is on the path taken when both its ends ran.
  const ran = new Map(nodes.map((n) => [n.id, n.state !== "PENDING" && n.state !== "NOT_TAKEN"]));
  for (const e of edges) e.taken = Boolean(ran.get(e.from) && ran.get(e.to)) && e.chosen !== false;
  return { nodes, edges, loops };
}
