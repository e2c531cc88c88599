// `baton compile` as a function: TypeScript flow files in, Conductor JSON and
// diagnostics out. Used by the compile and publish commands.
import type { TaskDef } from "@baton/sdk";
import { canonicalJson } from "../defs/canonical.js";
import { hasErrors, relative, type CompileDiagnostic } from "./diagnostic.js";
import { evaluate, type EvaluatedFlow, type EvaluatedSchedule } from "./evaluate.js";
import { typecheck } from "./typecheck.js";

export interface CompileResult {
  flows: EvaluatedFlow[];
  /** Task definitions of every flow, one per name, sorted by name. */
  taskDefs: TaskDef[];
  diagnostics: CompileDiagnostic[];
  /** Schedules exported beside the flows (schedule(...)). */
  schedules: EvaluatedSchedule[];
  /** Files that were type-checked. */
  files: string[];
}

export async function compileFlows(files: string[]): Promise<CompileResult> {
  const checked = typecheck(files);
  const diagnostics = [...checked.diagnostics];
  // Type errors first: evaluating code that does not type-check would only add noise.
  if (hasErrors(diagnostics)) return { flows: [], taskDefs: [], schedules: [], diagnostics, files };

  const evaluated = await evaluate(checked.exports, files, checked.tsconfig);
  diagnostics.push(...evaluated.diagnostics);

  const byVersion = new Map<string, EvaluatedFlow>();
  const flows: EvaluatedFlow[] = [];
  for (const flow of evaluated.flows) {
    const key = `${flow.name}@${flow.version}`;
    const other = byVersion.get(key);
    if (other) {
      if (canonicalJson(other.def) !== canonicalJson(flow.def)) {
        diagnostics.push({
          severity: "error",
          code: "BATON003",
          message: `two different flows are named "${flow.name}" version ${flow.version}: export ${flow.source.exportName} here and export ${other.source.exportName} in ${relative(other.source.file)}`,
          file: flow.source.file,
          flow: flow.name,
        });
      }
      continue;
    }
    byVersion.set(key, flow);
    flows.push(flow);
  }

  const taskDefs = new Map<string, { def: TaskDef; flow: string }>();
  for (const flow of flows) {
    for (const def of flow.taskDefs) {
      const other = taskDefs.get(def.name);
      if (!other) taskDefs.set(def.name, { def, flow: flow.name });
      else if (canonicalJson(other.def) !== canonicalJson(def)) {
        diagnostics.push({
          severity: "error",
          code: "BATON004",
          message: `flows "${other.flow}" and "${flow.name}" declare different task definitions named "${def.name}"`,
          file: flow.source.file,
          flow: flow.name,
        });
      }
    }
  }
  return {
    flows: flows.sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version),
    taskDefs: [...taskDefs.values()].map((t) => t.def).sort((a, b) => a.name.localeCompare(b.name)),
    diagnostics,
    schedules: evaluated.schedules.sort((a, b) => a.name.localeCompare(b.name)),
    files,
  };
}

export { formatCompileDiagnostic, hasErrors, type CompileDiagnostic } from "./diagnostic.js";
export type { EvaluatedFlow, EvaluatedSchedule } from "./evaluate.js";
