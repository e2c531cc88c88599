// Dynamic half of `baton compile`: load the user's modules (through tsx, so
// stack traces — and the builder's source locations — point at their .ts
// lines) and ask each flow for its JSON, its task definitions and its diagnostics.
import { fileURLToPath, pathToFileURL } from "node:url";
import { tsImport } from "tsx/esm/api";
import { Flow, Schedule, type Diagnostic, type TaskDef, type WorkflowDef, type WorkflowSchedule } from "@baton/sdk";
import type { CompileDiagnostic } from "./diagnostic.js";
import { withUserStacks } from "./stack.js";
import type { FlowExport } from "./typecheck.js";

export interface EvaluatedFlow {
  name: string;
  version: number;
  def: WorkflowDef;
  taskDefs: TaskDef[];
  /** `file` and export name it came from. */
  source: { file: string; exportName: string };
}

export interface EvaluatedSchedule {
  name: string;
  def: WorkflowSchedule;
  source: { file: string; exportName: string };
}

/** A stack frame's file may be a URL with tsx's namespace query; make it a path. */
function cleanFile(file: string): string {
  const bare = file.replace(/\?.*$/, "");
  return bare.startsWith("file://") ? fileURLToPath(bare) : bare;
}

function fromBuilder(d: Diagnostic, flow: string): CompileDiagnostic {
  return {
    severity: d.severity,
    code: d.code,
    message: d.message,
    ...(d.location ? { file: cleanFile(d.location.file), line: d.location.line, column: d.location.column } : {}),
    ...(d.path ? { path: d.path } : {}),
    flow,
  };
}

/** The first frame of `error`'s stack that is in one of the user's files. */
function userFrame(error: unknown, files: Set<string>): { file: string; line: number; column: number } | undefined {
  const stack = error instanceof Error ? (error.stack ?? "") : "";
  for (const m of stack.matchAll(/\(?((?:file:\/\/)?[^\s()]+):(\d+):(\d+)\)?$/gm)) {
    const file = cleanFile(m[1] ?? "");
    if (files.has(file)) return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

export async function evaluate(
  exports: FlowExport[],
  userFiles: string[],
  tsconfig: string | undefined,
): Promise<{ flows: EvaluatedFlow[]; schedules: EvaluatedSchedule[]; diagnostics: CompileDiagnostic[] }> {
  return withUserStacks(() => evaluateAll(exports, userFiles, tsconfig));
}

async function evaluateAll(
  exports: FlowExport[],
  userFiles: string[],
  tsconfig: string | undefined,
): Promise<{ flows: EvaluatedFlow[]; schedules: EvaluatedSchedule[]; diagnostics: CompileDiagnostic[] }> {
  const flows: EvaluatedFlow[] = [];
  const schedules: EvaluatedSchedule[] = [];
  const diagnostics: CompileDiagnostic[] = [];
  const seen = new Set<object>();
  const files = new Set(userFiles);
  const modules = new Map<string, Record<string, unknown>>();
  const failed = new Set<string>();
  for (const e of exports) {
    if (failed.has(e.file)) continue;
    let mod = modules.get(e.file);
    if (!mod) {
      try {
        mod = (await tsImport(pathToFileURL(e.file).href, { parentURL: import.meta.url, ...(tsconfig ? { tsconfig } : {}) })) as Record<string, unknown>;
      } catch (error) {
        failed.add(e.file);
        const at = userFrame(error, files) ?? { file: e.file };
        diagnostics.push({
          severity: "error",
          code: "BATON001",
          message: `loading the module threw: ${error instanceof Error ? error.message : String(error)}`,
          ...at,
        });
        continue;
      }
      modules.set(e.file, mod);
    }
    const value = mod[e.exportName];
    if (e.schedule) {
      if (!Schedule.is(value)) {
        diagnostics.push({
          severity: "error",
          code: "BATON002",
          message: `export ${e.exportName} has the type Schedule but its value is not a schedule`,
          ...e.declaredAt,
        });
        continue;
      }
      if (seen.has(value)) continue;
      seen.add(value);
      const problems = value.validate().errors;
      for (const p of problems)
        diagnostics.push({ severity: "error", code: "BATON005", message: `schedule ${value.name}: ${p.path || "/"}: ${p.message}`, ...e.declaredAt });
      if (problems.length === 0) schedules.push({ name: value.name, def: value.toJSON(), source: { file: e.file, exportName: e.exportName } });
      continue;
    }
    if (!Flow.is(value)) {
      diagnostics.push({
        severity: "error",
        code: "BATON002",
        message: `export ${e.exportName} has the type Flow but its value is not a flow`,
        ...e.declaredAt,
      });
      continue;
    }
    if (seen.has(value)) continue;
    seen.add(value);
    const found = value.validate();
    diagnostics.push(...found.map((d) => fromBuilder(d, value.name)));
    if (found.some((d) => d.severity === "error")) continue;
    flows.push({
      name: value.name,
      version: value.version,
      def: value.toJSON(),
      taskDefs: value.taskDefs(),
      source: { file: e.file, exportName: e.exportName },
    });
  }
  return { flows, schedules, diagnostics };
}
