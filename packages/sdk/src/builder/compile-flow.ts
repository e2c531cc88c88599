// A built flow -> WorkflowDef JSON plus the TaskDefs it needs, in canonical order.
import type { TaskDef, WorkflowDef } from "../def.js";
import { ordered, WORKFLOW_DEF_KEYS } from "./key-order.js";
import type { SourceLocation } from "./location.js";
import { compileList, type StepSite } from "./compile-steps.js";
import type { BuildState, StepNode } from "./step.js";
import { isRef } from "./ref.js";
import { toJson } from "./value.js";
import type { FlowSettings } from "./flow.js";

/** Everything a flow body declared, kept to compile on demand. */
export interface FlowState {
  name: string;
  settings: FlowSettings;
  inputNames: readonly string[] | undefined;
  inputTemplate: unknown;
  variables: unknown;
  root: StepNode[];
  output: unknown;
  build: BuildState;
  location: SourceLocation | undefined;
}

export interface CompiledFlow {
  def: WorkflowDef;
  taskDefs: TaskDef[];
  /** Task definitions that differ under one name (a conflict to report). */
  conflictingTaskDefs: string[];
  sites: StepSite[];
}

function collectTaskDefs(sites: StepSite[]): { taskDefs: TaskDef[]; conflicts: string[] } {
  const byName = new Map<string, TaskDef>();
  const conflicts = new Set<string>();
  const add = (def: TaskDef) => {
    const seen = byName.get(def.name);
    if (seen && JSON.stringify(seen) !== JSON.stringify(def)) conflicts.add(def.name);
    if (!seen) byName.set(def.name, def);
  };
  for (const { node } of sites) {
    if (node.taskDef) add(node.taskDef);
    node.inlineTaskDefs?.().forEach(add);
  }
  const taskDefs = [...byName.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return { taskDefs, conflicts: [...conflicts].sort() };
}

export function isPlainObject(v: unknown): boolean {
  return typeof v === "object" && v !== null && !Array.isArray(v) && !isRef(v);
}

/**
 * The inputs named in `.input<I>("a", "b")` are required: the definition says
 * so in Orkes Conductor's fields (`inputSchema`, a JSON Schema, enforced), and
 * the server refuses a start without them. A schema given in the settings wins.
 */
function declaredInputSchema(state: FlowState): Pick<WorkflowDef, "inputSchema" | "enforceSchema"> {
  const { inputSchema, enforceSchema } = state.settings;
  if (inputSchema || !state.inputNames?.length) return {};
  return {
    inputSchema: { name: `${state.name}_input`, version: 1, type: "JSON", data: { type: "object", required: [...state.inputNames] } },
    enforceSchema: enforceSchema ?? true,
  };
}

export function compileFlow(state: FlowState): CompiledFlow {
  const sites: StepSite[] = [];
  const tasks = compileList(state.root, "/tasks", sites);
  const { failureWorkflow, ...settings } = state.settings;
  // outputParameters is a map; a body returning anything else is reported (BATON108).
  const output = isPlainObject(state.output) ? toJson(state.output) : undefined;
  const def = ordered(
    {
      ...settings,
      name: state.name,
      version: settings.version ?? 1,
      tasks,
      inputParameters: state.inputNames ? [...state.inputNames] : undefined,
      ...declaredInputSchema(state),
      outputParameters: output ?? undefined,
      failureWorkflow: typeof failureWorkflow === "string" ? failureWorkflow : failureWorkflow?.name,
      schemaVersion: 2,
      variables: state.variables === undefined ? undefined : toJson(state.variables),
      inputTemplate: state.inputTemplate === undefined ? undefined : toJson(state.inputTemplate),
    } as WorkflowDef,
    WORKFLOW_DEF_KEYS,
  );
  const { taskDefs, conflicts } = collectTaskDefs(sites);
  return { def: JSON.parse(JSON.stringify(def)) as WorkflowDef, taskDefs, conflictingTaskDefs: conflicts, sites };
}
