// Everything `baton publish` was pointed at, as definitions with their sources:
// JSON files read as they are, TypeScript flows compiled. Then checked locally.
import { statSync } from "node:fs";
import { validateEventHandler, validateSchedule, validateTaskDef, validateWorkflowDef } from "@baton/sdk";
import { usage } from "../cli/exit.js";
import { expand, isFlowSource } from "../compiler/files.js";
import type { CompileDiagnostic } from "../compiler/diagnostic.js";
import { relative } from "../compiler/diagnostic.js";
import { canonicalJson } from "./canonical.js";
import { emptyLoad, isDefinitionFile, loadFile, type LoadProblem, type Loaded } from "./load.js";

export interface Collected {
  workflows: Loaded[];
  taskDefs: Loaded[];
  eventHandlers: Loaded[];
  schedules: Loaded[];
  problems: LoadProblem[];
  compileDiagnostics: CompileDiagnostic[];
  skipped: string[];
}

export async function collect(paths: string[]): Promise<Collected> {
  const loaded = emptyLoad();
  const tsFiles: string[] = [];
  for (const p of paths) {
    const explicit = !isDirectory(p);
    for (const file of expand([p], (f) => isDefinitionFile(f) || isFlowSource(f))) {
      if (isFlowSource(file)) tsFiles.push(file);
      else if (file.endsWith(".json")) loadFile(file, explicit, loaded);
      else throw usage(`${p}: publish reads Conductor JSON (*.json) and TypeScript flows (*.ts)`);
    }
  }
  const compileDiagnostics: CompileDiagnostic[] = [];
  if (tsFiles.length > 0) {
    const { compileFlows } = await import("../compiler/index.js");
    const compiled = await compileFlows(tsFiles);
    compileDiagnostics.push(...compiled.diagnostics);
    for (const flow of compiled.flows) {
      const source = `${relative(flow.source.file)} (export ${flow.source.exportName})`;
      loaded.workflows.push({ def: flow.def as unknown as Record<string, unknown>, source, file: relative(flow.source.file), pointer: "" });
      for (const t of flow.taskDefs)
        loaded.taskDefs.push({ def: t as unknown as Record<string, unknown>, source, file: relative(flow.source.file), pointer: "" });
    }
    for (const s of compiled.schedules) {
      const source = `${relative(s.source.file)} (export ${s.source.exportName})`;
      loaded.schedules.push({ def: s.def as unknown as Record<string, unknown>, source, file: relative(s.source.file), pointer: "" });
    }
  }
  return { ...loaded, compileDiagnostics, ...check(loaded.workflows, loaded.taskDefs, loaded.eventHandlers, loaded.schedules, loaded.problems) };
}

function isDirectory(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** Local validation, and one definition per name: nothing goes to the server unless all of it is valid. */
function check(workflows: Loaded[], taskDefs: Loaded[], eventHandlers: Loaded[], schedules: Loaded[], problems: LoadProblem[]) {
  const out = [...problems];
  for (const w of workflows) takeRollout(w, out);
  for (const w of workflows) {
    for (const issue of validateWorkflowDef(w.def).errors) out.push({ file: w.file, path: w.pointer + issue.path, message: issue.message });
  }
  for (const t of taskDefs) {
    for (const issue of validateTaskDef(t.def)) out.push({ file: t.file, path: t.pointer + issue.path, message: issue.message });
  }
  for (const e of eventHandlers) {
    for (const issue of validateEventHandler(e.def).errors) out.push({ file: e.file, path: e.pointer + issue.path, message: issue.message });
  }
  for (const s of schedules) {
    for (const issue of validateSchedule(s.def).errors) out.push({ file: s.file, path: s.pointer + issue.path, message: issue.message });
  }
  return {
    workflows: unique(workflows, "workflow", out),
    schedules: unique(schedules, "schedule", out),
    taskDefs: unique(taskDefs, "task definition", out),
    eventHandlers: unique(eventHandlers, "event handler", out),
    problems: out,
  };
}

/** Moves a workflow's `rollout` out of its definition (publish applies it; it is not registered), checking its fields. */
function takeRollout(w: Loaded, problems: LoadProblem[]): void {
  if (!("rollout" in w.def)) return;
  const { rollout, ...def } = w.def;
  w.def = def;
  const at = (field: string, message: string): void => {
    problems.push({ file: w.file, path: `${w.pointer}/rollout${field}`, message });
  };
  if (typeof rollout !== "object" || rollout === null || Array.isArray(rollout)) return at("", "must be an object: {canary, sticky?, guard?}");
  const r = rollout as Record<string, unknown>;
  if (!Number.isInteger(r["canary"]) || (r["canary"] as number) < 1 || (r["canary"] as number) > 100) at("/canary", "must be a whole percent from 1 to 100");
  if (r["sticky"] !== undefined && typeof r["sticky"] !== "string") at("/sticky", "must be a ${...} expression string");
  const guard = r["guard"] as Record<string, unknown> | undefined;
  if (guard !== undefined) {
    if (typeof guard !== "object" || guard === null) at("/guard", "must be an object: {maxFailureRateIncrease, minEndedRuns, windowSeconds?}");
    else {
      if (typeof guard["maxFailureRateIncrease"] !== "number") at("/guard/maxFailureRateIncrease", "must be a number of percentage points");
      if (!Number.isInteger(guard["minEndedRuns"])) at("/guard/minEndedRuns", "must be a whole number");
      if (guard["windowSeconds"] !== undefined && !Number.isInteger(guard["windowSeconds"])) at("/guard/windowSeconds", "must be a whole number of seconds");
    }
  }
  w.rollout = r;
}

/** Drops exact duplicates; two different definitions under one name are a problem. */
function unique(list: Loaded[], what: string, problems: LoadProblem[]): Loaded[] {
  const byName = new Map<string, Loaded>();
  for (const item of list) {
    const name = item.def["name"];
    if (typeof name !== "string") continue;
    const other = byName.get(name);
    if (!other) byName.set(name, item);
    else if (canonicalJson(other.def) !== canonicalJson(item.def)) {
      problems.push({
        file: item.file,
        path: item.pointer,
        message: `${what} "${name}" is also defined, differently, in ${other.source}; publish one definition per name`,
      });
    }
  }
  return [...byName.values()];
}
