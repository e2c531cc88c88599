// Reading Conductor JSON for publish: a WorkflowDef, a list of them, a list of
// TaskDefs, {taskDefs: [...], workflowDefs: [...]}, an EventHandler or a WorkflowSchedule (or a list of them). Every problem is kept
// with its file and JSON path; nothing throws for bad content.
import { readFileSync } from "node:fs";
import path from "node:path";

type Obj = Record<string, unknown>;

export interface Loaded {
  def: Obj;
  /** `file` or `file#/pointer` for a definition inside a larger document. */
  source: string;
  file: string;
  /** JSON pointer of the definition inside its file ("" for the whole file). */
  pointer: string;
  /** A workflow's `rollout` (taken out of `def`: publish reads it, the server never sees it). */
  rollout?: Record<string, unknown>;
}

export interface LoadProblem {
  file: string;
  /** JSON pointer into the file. */
  path: string;
  message: string;
  line?: number;
  column?: number;
}

export interface LoadResult {
  workflows: Loaded[];
  taskDefs: Loaded[];
  eventHandlers: Loaded[];
  schedules: Loaded[];
  problems: LoadProblem[];
  /** Files found in directories and skipped (not a definition). */
  skipped: string[];
}

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

// Keys only a TaskDef has: how a list of task definitions is told from a list of workflows.
const TASK_DEF_KEYS = [
  "retryCount",
  "retryLogic",
  "retryDelaySeconds",
  "responseTimeoutSeconds",
  "inputKeys",
  "outputKeys",
  "concurrentExecLimit",
  "rateLimitPerFrequency",
  "rateLimitFrequencyInSeconds",
  "pollTimeoutSeconds",
  "backoffScaleFactor",
];
const looksLikeTaskDef = (v: unknown): boolean => isObj(v) && !("tasks" in v) && TASK_DEF_KEYS.some((k) => k in v);
const looksLikeWorkflow = (v: unknown): boolean => isObj(v) && ("tasks" in v || "schemaVersion" in v);
const looksLikeEventHandler = (v: unknown): boolean => isObj(v) && "event" in v && "actions" in v && !("tasks" in v);
const looksLikeSchedule = (v: unknown): boolean => isObj(v) && "startWorkflowRequest" in v && !("tasks" in v);

const IGNORED = /^(package(-lock)?|tsconfig(\..*)?|jsconfig|\..*)\.json$/;

/** Files a directory contributes: not package.json, tsconfig*.json and the like. */
export const isDefinitionFile = (file: string): boolean => file.endsWith(".json") && !IGNORED.test(path.basename(file));

function lineCol(text: string, position: number): { line: number; column: number } {
  const before = text.slice(0, position);
  const line = before.split("\n").length;
  return { line, column: position - before.lastIndexOf("\n") };
}

function parseJson(file: string, text: string): { value: unknown } | { problem: LoadProblem } {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch (error) {
    const message = (error as Error).message;
    const pos = /position (\d+)/.exec(message);
    const at = pos ? lineCol(text, Number(pos[1])) : {};
    return { problem: { file, path: "", message: `not valid JSON: ${message.replace(/ in JSON at position \d+.*$/, "")}`, ...at } };
  }
}

/**
 * Adds one file's definitions to `into`. `explicit` files are taken as
 * definitions whatever they look like (so their errors are reported); files
 * found in a directory that are no definition are skipped.
 */
export function loadFile(file: string, explicit: boolean, into: LoadResult, cwd = process.cwd()): void {
  const name = path.relative(cwd, file) || file;
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    into.problems.push({ file: name, path: "", message: `cannot read: ${(error as Error).message}` });
    return;
  }
  const parsed = parseJson(name, text);
  if ("problem" in parsed) {
    into.problems.push(parsed.problem);
    return;
  }
  const value = parsed.value;
  const add = (list: Loaded[], def: unknown, pointer: string) => {
    if (!isObj(def)) {
      into.problems.push({ file: name, path: pointer, message: "must be a JSON object" });
      return;
    }
    list.push({ def, file: name, pointer, source: pointer ? `${name}#${pointer}` : name });
  };

  if (Array.isArray(value) && value.length > 0 && value.every(looksLikeSchedule)) {
    value.forEach((d, i) => add(into.schedules, d, `/${i}`));
  } else if (looksLikeSchedule(value)) {
    add(into.schedules, value, "");
  } else if (Array.isArray(value) && value.length > 0 && value.every(looksLikeEventHandler)) {
    value.forEach((d, i) => add(into.eventHandlers, d, `/${i}`));
  } else if (Array.isArray(value)) {
    const asTasks = value.length > 0 && value.every(looksLikeTaskDef);
    if (!explicit && !asTasks && !value.some(looksLikeWorkflow)) return void into.skipped.push(name);
    value.forEach((d, i) => add(asTasks ? into.taskDefs : into.workflows, d, `/${i}`));
  } else if (isObj(value) && (Array.isArray(value["taskDefs"]) || Array.isArray(value["workflowDefs"]))) {
    for (const key of ["taskDefs", "workflowDefs"] as const) {
      const list = value[key];
      if (list === undefined) continue;
      if (!Array.isArray(list)) {
        into.problems.push({ file: name, path: `/${key}`, message: "must be a list" });
        continue;
      }
      list.forEach((d, i) => add(key === "taskDefs" ? into.taskDefs : into.workflows, d, `/${key}/${i}`));
    }
  } else if (looksLikeEventHandler(value)) {
    add(into.eventHandlers, value, "");
  } else if (looksLikeTaskDef(value)) {
    add(into.taskDefs, value, "");
  } else if (explicit || looksLikeWorkflow(value)) {
    add(into.workflows, value, "");
  } else {
    into.skipped.push(name);
  }
}

export const emptyLoad = (): LoadResult => ({ workflows: [], taskDefs: [], eventHandlers: [], schedules: [], problems: [], skipped: [] });
