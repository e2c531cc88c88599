// StepNode tree -> Conductor WorkflowTask JSON, recording which step each
// JSON pointer came from so diagnostics can point back at builder calls.
import type { WorkflowTask } from "../def.js";
import { pointer } from "../validation/pointer.js";
import { ordered, WORKFLOW_TASK_KEYS } from "./key-order.js";
import type { StepNode } from "./step.js";
import { toJson } from "./value.js";

/** A compiled step and the JSON pointer of its WorkflowTask. */
export interface StepSite {
  path: string;
  node: StepNode;
}

export function compileList(list: StepNode[], path: string, sites: StepSite[]): WorkflowTask[] {
  return list.map((node, i) => compileStep(node, pointer(path, i), sites));
}

function compileStep(node: StepNode, path: string, sites: StepSite[]): WorkflowTask {
  sites.push({ path, node });
  const task: Record<string, unknown> = {
    name: node.name,
    taskReferenceName: node.ref,
    type: node.type,
  };
  for (const [k, v] of Object.entries(node.fields)) if (v !== undefined) task[k] = toJson(v);
  if (node.forkTasks) {
    task["forkTasks"] = node.forkTasks.map((b, i) => compileList(b, pointer(path, "forkTasks", i), sites));
  }
  if (node.decisionCases) {
    const cases: Record<string, WorkflowTask[]> = {};
    for (const [key, list] of node.decisionCases) cases[key] = compileList(list, pointer(path, "decisionCases", key), sites);
    task["decisionCases"] = cases;
  }
  if (node.defaultCase) task["defaultCase"] = compileList(node.defaultCase, pointer(path, "defaultCase"), sites);
  if (node.loopOver) task["loopOver"] = compileList(node.loopOver, pointer(path, "loopOver"), sites);
  return ordered(task as WorkflowTask, WORKFLOW_TASK_KEYS);
}
