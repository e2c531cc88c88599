// A run's fairness key: the value of its workflow's `fairnessKey` expression
// (`${workflow.input.customerId}`, `${workflow.correlationId}`) when it
// starts. Queue rows carry it, and claims take tasks round-robin across the
// keys waiting (in proportion to each key's weight), so a key with 100,000
// queued tasks does not starve one with 10.
import type { WorkflowDef } from "@baton/sdk";
import type { JsonObject, RunMarks, RunState } from "../decider/model.js";

const EXPRESSION = /^\$\{workflow\.(correlationId|input((?:\.[A-Za-z_$][\w$-]*)+))\}$/;
const paths = new Map<string, string[] | "correlationId" | undefined>();

function parse(expression: string): string[] | "correlationId" | undefined {
  if (!paths.has(expression)) {
    const m = EXPRESSION.exec(expression);
    paths.set(expression, !m ? undefined : m[1] === "correlationId" ? "correlationId" : m[2]!.slice(1).split("."));
  }
  return paths.get(expression);
}

/** The key of a run starting with this input ("" when the workflow names none, or the value is absent). */
export function fairKeyOf(expression: unknown, input: JsonObject, correlationId: string): string {
  if (typeof expression !== "string") return "";
  const path = parse(expression);
  if (path === undefined) return "";
  if (path === "correlationId") return correlationId;
  let value: unknown = input;
  for (const segment of path) {
    if (value === null || typeof value !== "object") return "";
    value = (value as Record<string, unknown>)[segment];
  }
  if (value === undefined || value === null) return "";
  // At most 200 characters: a key names a tenant, not a payload.
  return (typeof value === "string" ? value : JSON.stringify(value)).slice(0, 200);
}

/** The weight of a key: its entry in the workflow's `fairnessWeights` (1 when absent). */
export function fairWeightOf(def: WorkflowDef, key: string): number {
  const weight = key ? def.fairnessWeights?.[key] : undefined;
  return typeof weight === "number" && Number.isInteger(weight) && weight >= 1 ? weight : 1;
}

/**
 * The key a run was started with ("" for none) and its weight (1 unless marked); computed again from its definition
 * for a run with no key marked (keyless, or restarted before restarts kept the key: see fairMarksOf).
 */
export function fairShareOfRun(run: RunState, def: WorkflowDef | undefined): { key: string; weight: number } {
  const kept = run.marks.fairKey;
  const key = typeof kept === "string" ? kept : def ? fairKeyOf(def["fairnessKey"], run.input, run.correlationId) : "";
  const weight = run.marks.fairWeight;
  return { key, weight: typeof weight === "number" ? weight : typeof kept !== "string" && def ? fairWeightOf(def, key) : 1 };
}

/**
 * The marks that key a run starting (or restarting) on `def` with this input: its workflow's own key, else the key
 * of the run that started it (`inherited`, kept with them), else none. A restart takes them again, so a SUB_WORKFLOW
 * child or a START_WORKFLOW run restarted keeps the key its starter gave it.
 */
export function fairMarksOf(
  def: WorkflowDef,
  input: JsonObject,
  correlationId: string,
  inherited: RunMarks["inheritedFair"],
): Pick<RunMarks, "fairKey" | "fairWeight" | "inheritedFair"> {
  const own = fairKeyOf(def["fairnessKey"], input, correlationId);
  const key = own || inherited?.key || "";
  const weight = own ? fairWeightOf(def, own) : (inherited?.weight ?? 1);
  return {
    ...(key ? { fairKey: key } : {}),
    ...(weight !== 1 ? { fairWeight: weight } : {}),
    ...(inherited?.key ? { inheritedFair: inherited } : {}),
  };
}
