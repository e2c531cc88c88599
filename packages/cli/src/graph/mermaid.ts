// A Conductor WorkflowDef as a Mermaid flowchart: forks fan out and join,
// switch cases are labelled edges, loops are subgraphs with an edge back. With
// a run, nodes get a class per status and the branches not taken are dimmed.
import { definitionRef } from "@baton/sdk";

type Obj = Record<string, unknown>;

export interface RunOverlay {
  status: string;
  tasks: { referenceTaskName: string; status: string; seq: number; outputData?: unknown }[];
}

interface Exit {
  id: string;
  label?: string;
}

interface Edge {
  from: string;
  to: string;
  label?: string;
  back?: boolean;
}

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter(isObj) : []);

const STATUS_CLASS: Record<string, string> = {
  COMPLETED: "completed",
  COMPLETED_WITH_ERRORS: "completed",
  FAILED: "failed",
  FAILED_WITH_TERMINAL_ERROR: "failed",
  TIMED_OUT: "failed",
  // Stopped before it finished (its run ended, or a join whose branch failed): not a step skipped on purpose.
  CANCELED: "canceled",
  SKIPPED: "skipped",
  SCHEDULED: "running",
  IN_PROGRESS: "running",
};

const CLASS_DEFS = [
  "classDef completed fill:#dcfce7,stroke:#16a34a,color:#14532d",
  "classDef failed fill:#fee2e2,stroke:#dc2626,color:#7f1d1d",
  "classDef skipped fill:#f3f4f6,stroke:#9ca3af,color:#6b7280,stroke-dasharray:4 2",
  "classDef canceled fill:#ffedd5,stroke:#ea580c,color:#7c2d12",
  "classDef running fill:#fef9c3,stroke:#ca8a04,color:#713f12",
  "classDef nottaken fill:#fafafa,stroke:#d4d4d4,color:#a3a3a3,stroke-dasharray:3 3",
];

function text(s: string): string {
  return s.replace(/"/g, "#quot;").replace(/</g, "#lt;").replace(/>/g, "#gt;");
}

function shape(id: string, label: string, type: string): string {
  const l = `"${label}"`;
  switch (type) {
    case "SWITCH":
    case "DECISION":
      return `${id}{${l}}`;
    case "FORK_JOIN":
    case "FORK_JOIN_DYNAMIC":
      return `${id}{{${l}}}`;
    case "JOIN":
    case "EXCLUSIVE_JOIN":
      return `${id}[\\${l}/]`;
    case "DO_WHILE":
      return `${id}([${l}])`;
    case "SUB_WORKFLOW":
    case "START_WORKFLOW":
      return `${id}[[${l}]]`;
    case "TERMINATE":
      return `${id}[/${l}/]`;
    case "SIMPLE":
      return `${id}[${l}]`;
    default:
      return `${id}(${l})`;
  }
}

class Chart {
  readonly edges: Edge[] = [];
  readonly nodes = new Map<string, string>(); // ref -> node id
  readonly types = new Map<string, string>(); // node id -> task type
  private readonly used = new Set<string>(["start_", "end_"]);
  // Node lines, per open subgraph; the first is the top level.
  private readonly blocks: string[][] = [[]];

  rootLines(): string[] {
    return this.blocks[0] ?? [];
  }

  private emit(line: string): void {
    this.blocks[this.blocks.length - 1]?.push(line);
  }

  private idFor(ref: string): string {
    const base = "t_" + ref.replace(/[^A-Za-z0-9_]/g, "_");
    let id = base;
    for (let n = 2; this.used.has(id); n++) id = `${base}_${n}`;
    this.used.add(id);
    return id;
  }

  private connect(from: Exit[], to: string): void {
    for (const e of from) this.edges.push({ from: e.id, to, ...(e.label !== undefined ? { label: e.label } : {}) });
  }

  walk(tasks: Obj[], entries: Exit[], indent: string): Exit[] {
    let exits = entries;
    for (const task of tasks) exits = this.task(task, exits, indent);
    return exits;
  }

  private task(task: Obj, entries: Exit[], indent: string): Exit[] {
    const ref = String(task["taskReferenceName"] ?? task["name"] ?? "?");
    const type = String(task["type"] ?? "SIMPLE");
    const name = String(task["name"] ?? ref);
    const id = this.idFor(ref);
    this.nodes.set(ref, id);
    this.types.set(id, type);
    const detail =
      type === "SIMPLE"
        ? name !== ref
          ? name
          : ""
        : type === "SUB_WORKFLOW"
          ? `SUB_WORKFLOW ${String((task["subWorkflowParam"] as Obj | undefined)?.["name"] ?? "")}`
          : type;
    this.emit(`${indent}${shape(id, detail ? `${text(ref)}<br/><small>${text(detail)}</small>` : text(ref), type)}`);
    this.connect(entries, id);

    switch (type) {
      case "SWITCH":
      case "DECISION": {
        const exits: Exit[] = [];
        const cases = isObj(task["decisionCases"]) ? task["decisionCases"] : {};
        for (const [key, branch] of Object.entries(cases)) {
          const tasks = list(branch);
          exits.push(...(tasks.length ? this.walk(tasks, [{ id, label: key }], indent) : [{ id, label: key }]));
        }
        const fallback = list(task["defaultCase"]);
        exits.push(...(fallback.length ? this.walk(fallback, [{ id, label: "default" }], indent) : [{ id, label: "default" }]));
        return exits;
      }
      case "FORK_JOIN": {
        const branches = Array.isArray(task["forkTasks"]) ? (task["forkTasks"] as unknown[]).map(list) : [];
        const exits = branches.flatMap((b) => (b.length ? this.walk(b, [{ id }], indent) : [{ id }]));
        return exits.length ? exits : [{ id }];
      }
      case "FORK_JOIN_DYNAMIC": {
        const dyn = `${id}__dynamic`;
        this.used.add(dyn);
        this.emit(`${indent}${dyn}[/"dynamic tasks"/]`);
        this.edges.push({ from: id, to: dyn });
        return [{ id: dyn }];
      }
      case "DO_WHILE": {
        const body = list(task["loopOver"]);
        if (body.length === 0) return [{ id }];
        this.emit(`${indent}subgraph ${id}__body ["${text(`loop ${ref}`)}"]`);
        this.blocks.push([]);
        const bodyExits = this.walk(body, [{ id }], indent + "  ");
        const inner = this.blocks.pop() ?? [];
        for (const line of inner) this.emit(line);
        this.emit(`${indent}end`);
        for (const e of bodyExits) this.edges.push({ from: e.id, to: id, label: "repeat", back: true });
        return [{ id, label: "done" }];
      }
      case "TERMINATE":
        return [];
      default:
        return [{ id }];
    }
  }
}

/** The Mermaid source: `flowchart TD`, nodes, edges, and with a run the status classes. */
export function toMermaid(def: Obj, run?: RunOverlay): string {
  const chart = new Chart();
  const title = `${String(def["name"] ?? "workflow")} v${String(def["version"] ?? 1)}`;
  const endLabel = run ? `end: ${run.status}` : "end";
  const body = [`  start_(["${text(title)}"])`];
  const exits = chart.walk(list(def["tasks"]), [{ id: "start_" }], "  ");
  body.push(...chart.rootLines());
  body.push(`  end_(["${text(endLabel)}"])`);
  for (const e of exits) chart.edges.push({ from: e.id, to: "end_", ...(e.label !== undefined ? { label: e.label } : {}) });

  const out = ["flowchart TD", ...body];
  for (const e of chart.edges) {
    const arrow = e.back ? "-.->" : "-->";
    out.push(`  ${e.from} ${arrow}${e.label !== undefined ? `|"${text(e.label)}"|` : ""} ${e.to}`);
  }
  if (run) out.push(...overlay(chart, run));
  return out.join("\n") + "\n";
}

function overlay(chart: Chart, run: RunOverlay): string[] {
  // The latest attempt of each step (loop iterations are ref__N).
  const latest = new Map<string, RunOverlay["tasks"][number]>();
  for (const t of run.tasks) {
    const ref = definitionRef(t.referenceTaskName);
    const seen = latest.get(ref);
    if (!seen || t.seq > seen.seq) latest.set(ref, t);
  }
  const classOf = new Map<string, string>([["start_", "completed"]]);
  for (const [ref, id] of chart.nodes) {
    const t = latest.get(ref);
    classOf.set(id, t ? (STATUS_CLASS[t.status] ?? "running") : "nottaken");
    if (chart.types.get(id) === "FORK_JOIN_DYNAMIC") classOf.set(`${id}__dynamic`, t ? (STATUS_CLASS[t.status] ?? "running") : "nottaken");
  }
  const ended = run.status !== "RUNNING" && run.status !== "PAUSED";
  classOf.set("end_", run.status === "COMPLETED" ? "completed" : ended ? "failed" : "nottaken");

  // A switch's chosen case, from its output (Conductor's evaluationResult).
  const chosen = new Map<string, string>();
  for (const [ref, id] of chart.nodes) {
    const out = latest.get(ref)?.outputData;
    const result = isObj(out) && Array.isArray(out["evaluationResult"]) ? out["evaluationResult"][0] : undefined;
    if (result !== undefined) chosen.set(id, String(result));
  }
  const reached = (id: string) => (classOf.get(id) ?? "nottaken") !== "nottaken";
  const dim: number[] = [];
  chart.edges.forEach((e, i) => {
    let taken = reached(e.from) && reached(e.to);
    const pick = chosen.get(e.from);
    if (taken && e.label !== undefined && pick !== undefined && !e.back && e.label !== "done") {
      const labels = chart.edges.filter((x) => x.from === e.from && x.label !== undefined).map((x) => x.label);
      taken = e.label === pick || (e.label === "default" && !labels.includes(pick));
    }
    if (!taken) dim.push(i);
  });

  const out = CLASS_DEFS.map((l) => `  ${l}`);
  const byClass = new Map<string, string[]>();
  for (const [id, cls] of classOf) byClass.set(cls, [...(byClass.get(cls) ?? []), id]);
  for (const [cls, ids] of byClass) out.push(`  class ${ids.join(",")} ${cls}`);
  if (dim.length) out.push(`  linkStyle ${dim.join(",")} stroke:#d4d4d4,stroke-dasharray:3 3,color:#a3a3a3`);
  return out;
}
