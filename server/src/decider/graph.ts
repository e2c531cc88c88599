// Where each task of a definition stands, so the decider can say what comes
// after a task: the next in its list, or the end of a branch, case or loop body.
import type { WorkflowDef, WorkflowTask } from "@baton/sdk";
import { byteCache, jsonCharge } from "../byte-caches.js";

export type Container =
  { kind: "root" } | { kind: "fork"; owner: string; branch: number } | { kind: "case"; owner: string; caseKey: string } | { kind: "loop"; owner: string };

export interface GraphNode {
  task: WorkflowTask;
  list: WorkflowTask[];
  index: number;
  container: Container;
}

export type Next = { kind: "task"; task: WorkflowTask } | { kind: "end" } | { kind: "branchEnd"; fork: string } | { kind: "loopEnd"; loop: string };

export class Graph {
  readonly nodes = new Map<string, GraphNode>();
  /** descendants(), by task, as asked for. */
  private readonly nested = new Map<string, ReadonlySet<string>>();

  constructor(readonly def: WorkflowDef) {
    this.walk(def.tasks, { kind: "root" });
  }

  private walk(list: WorkflowTask[], container: Container): void {
    list.forEach((task, index) => {
      this.nodes.set(task.taskReferenceName, { task, list, index, container });
      const owner = task.taskReferenceName;
      task.forkTasks?.forEach((branch, b) => this.walk(branch, { kind: "fork", owner, branch: b }));
      for (const [caseKey, tasks] of Object.entries(task.decisionCases ?? {})) this.walk(tasks, { kind: "case", owner, caseKey });
      if (task.defaultCase) this.walk(task.defaultCase, { kind: "case", owner, caseKey: "" });
      if (task.loopOver) this.walk(task.loopOver, { kind: "loop", owner });
    });
  }

  task(ref: string): WorkflowTask | undefined {
    return this.nodes.get(ref)?.task;
  }

  /** What the flow does once `ref` is done. */
  next(ref: string): Next {
    const node = this.nodes.get(ref);
    if (!node) return { kind: "end" };
    const following = node.list[node.index + 1];
    if (following) return { kind: "task", task: following };
    switch (node.container.kind) {
      case "root":
        return { kind: "end" };
      case "fork":
        return { kind: "branchEnd", fork: node.container.owner };
      case "loop":
        return { kind: "loopEnd", loop: node.container.owner };
      case "case":
        return this.next(node.container.owner);
    }
  }

  /**
   * Reference names of every task nested under `ref` (cases, branches, loop
   * body). Made once per task and kept with the graph (which is shared and
   * never changes): a loop asks for its body's at each iteration it records.
   */
  descendants(ref: string): ReadonlySet<string> {
    let refs = this.nested.get(ref);
    if (!refs) {
      const out = new Set<string>();
      const visit = (task: WorkflowTask) => {
        const lists = [...(task.forkTasks ?? []), ...Object.values(task.decisionCases ?? {}), task.defaultCase ?? [], task.loopOver ?? []];
        for (const list of lists)
          for (const child of list) {
            out.add(child.taskReferenceName);
            visit(child);
          }
      };
      const task = this.task(ref);
      if (task) visit(task);
      refs = out;
      this.nested.set(ref, refs);
    }
    return refs;
  }
}

/** Graphs are charged for their definition: they hold its tasks. */
const graphs = byteCache<string, Graph>("graphs", { maxBytes: 128 * 1024 * 1024, maxEntries: 1000, sizeOf: (graph) => jsonCharge(graph.def) });

/** Graphs are immutable per content hash, so they are built once and shared (until evicted). */
export function graphFor(hash: string, def: WorkflowDef): Graph {
  let graph = graphs.get(hash);
  if (!graph) {
    graph = new Graph(def);
    graphs.set(hash, graph);
  }
  return graph;
}
