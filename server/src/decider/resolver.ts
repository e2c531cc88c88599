// The `${...}` context of a run: `workflow` plus one entry per task reference
// name (its latest instance; the task book keeps the names). Views read the
// live task objects, so the context is made once per decision, at no cost per
// task, and stays current as tasks change.
import { listExpressions, resolveParameters, resolveValue, toJson } from "../expressions/index.js";
import type { Json, JsonObject, RunState, TaskState, WorkflowDef } from "./model.js";
import type { TaskBook } from "./task-book.js";

function taskView(task: TaskState): Record<string, unknown> {
  return {
    get input() {
      return task.input;
    },
    get output() {
      return task.output;
    },
    get status() {
      return task.status;
    },
    get taskId() {
      return task.id;
    },
    get referenceTaskName() {
      return task.ref;
    },
    get taskType() {
      return task.type;
    },
    get retryCount() {
      return task.retryCount;
    },
    get pollCount() {
      return task.pollCount;
    },
    get iteration() {
      return task.iteration;
    },
    get reasonForIncompletion() {
      return task.reason;
    },
    get workerId() {
      return task.workerId;
    },
    get scheduledTime() {
      return task.scheduledAt;
    },
    get startTime() {
      return task.startedAt;
    },
    get endTime() {
      return task.endedAt;
    },
    get subWorkflowId() {
      return task.subWorkflowId;
    },
  };
}

function workflowView(run: RunState, def: WorkflowDef | undefined): Record<string, unknown> {
  return {
    get input() {
      return run.input;
    },
    get output() {
      return run.output;
    },
    get variables() {
      return run.variables;
    },
    get workflowId() {
      return run.id;
    },
    // Conductor: null when the run was started without one.
    get correlationId() {
      return run.correlationId || null;
    },
    get workflowType() {
      return run.name;
    },
    get version() {
      return run.version;
    },
    // Conductor stores every definition as schema version 2.
    get schemaVersion() {
      return def?.schemaVersion ?? 2;
    },
    get status() {
      return run.status;
    },
    get priority() {
      return run.priority;
    },
    get parentWorkflowId() {
      return run.parentRunId;
    },
    get parentWorkflowTaskId() {
      return run.parentTaskId;
    },
    get createTime() {
      return run.createdAt;
    },
    get reasonForIncompletion() {
      return run.reason;
    },
  };
}

/**
 * The `${...}` context, over the run's task book (which knows each name's
 * task). Task entries are views made on first use: a run with 10,000 tasks
 * does not build 10,000 views for an event that reads two.
 */
export class Resolver {
  private readonly context: Record<string, unknown>;
  /** Views of tasks by the task (a view reads the live task, so it stays right as the task changes). */
  private readonly views = new WeakMap<TaskState, Record<string, unknown>>();

  constructor(
    run: RunState,
    private readonly book: TaskBook,
    def?: WorkflowDef,
  ) {
    const workflow = workflowView(run, def);
    const lookup = (key: string | symbol): unknown => (key === "workflow" ? workflow : typeof key === "string" ? this.view(book.named(key)) : undefined);
    const has = (key: string | symbol): boolean => key === "workflow" || (typeof key === "string" && book.named(key) !== undefined);
    this.context = new Proxy({} as Record<string, unknown>, {
      get: (_target, key) => lookup(key),
      has: (_target, key) => has(key),
      ownKeys: () => ["workflow", ...book.names()],
      getOwnPropertyDescriptor: (_target, key) => (has(key) ? { value: lookup(key), enumerable: true, configurable: true, writable: false } : undefined),
    });
  }

  private view(task: TaskState | undefined): Record<string, unknown> | undefined {
    if (!task) return undefined;
    let view = this.views.get(task);
    if (!view) {
      view = taskView(task);
      this.views.set(task, view);
    }
    return view;
  }

  /**
   * The context entries `template` reads, as JSON, for the queries pool (a
   * template whose paths hold filters is resolved there): the entries its
   * paths start from, or all of them when one does not say (`$..x`, a bare
   * `@root`, a name spliced in by a nested `${...}`).
   *
   * An entry is its view's fields, with the payloads (input, output,
   * variables) as they are, not copied: they are replaced, never changed in
   * place, so the pool's own copy (made when the request is posted, maybe
   * after this decision) sees them as they are now. A loop's output is the
   * one payload changed in place (loop-output.ts): it is copied. So all of a
   * run costs a field list per task here, and one copy, in the pool's post.
   */
  snapshot(template: unknown): { [name: string]: Json } {
    const out: { [name: string]: Json } = {};
    for (const name of rootNames(template) ?? (Reflect.ownKeys(this.context) as string[])) {
      const value = this.context[name];
      if (value === undefined) continue;
      const task = name === "workflow" ? undefined : this.book.named(name);
      out[name] = entryJson(value as Record<string, unknown>, task?.type === "DO_WHILE");
    }
    return out;
  }

  /** Throws FilterDeferred at a path with a filter: those are read in the queries pool. */
  resolve(template: JsonObject, taskId?: string): JsonObject {
    return resolveParameters(template, this.context, taskId ? { taskId } : {}) as JsonObject;
  }

  resolveValue(value: unknown, taskId?: string): Json {
    return resolveValue(value, this.context, taskId ? { taskId } : {}) as Json;
  }
}

/** Payload fields of an entry: JSON already, shared rather than copied (see Resolver.snapshot). */
const PAYLOADS = new Set(["input", "output", "variables"]);

/** A view as JSON: its fields, its payloads as they are (a loop's output copied: it changes in place). */
function entryJson(view: Record<string, unknown>, copyOutput: boolean): Json {
  const out: { [field: string]: Json } = {};
  for (const field of Object.keys(view)) {
    const value = view[field];
    if (value === undefined) continue;
    out[field] = PAYLOADS.has(field) && !(copyOutput && field === "output") ? (value as Json) : toJson(value);
  }
  return out;
}

/** `@root.name` or `@root['name']` followed by more of the path: the entry `name` is what it reads. */
const ROOT_STEP = /@root(?:\.([^.[\]\s${}()*?@,:'"]+)|\[\s*(['"])([^'"\\]*)\2\s*\])(?=[.[])/g;

/** The context entries the paths of `template` start from; undefined when one does not say which. */
function rootNames(template: unknown): Set<string> | undefined {
  const names = new Set<string>();
  for (const { expression } of listExpressions(template)) {
    // A filter's `@root.workflow.input.x` reads the entry `workflow`; a bare `@root` (`@root..x`) may read any,
    // and so may the name jsonpath-plus gives it in the filter's code.
    if (expression.includes("_$_root")) return undefined;
    if (expression.includes("@root")) {
      const steps = [...expression.matchAll(ROOT_STEP)];
      if (steps.length !== expression.split("@root").length - 1) return undefined;
      for (const step of steps) names.add((step[1] ?? step[3])!);
    }
    // A nested `${...}` is listed itself; the text around it decides the root.
    const root = rootOf(expression);
    if (root === undefined) return undefined;
    names.add(root);
  }
  return names;
}

/** The first name of a path (`workflow` in `$.workflow.input.x`, `a b` in `['a b'].output`), or undefined. */
function rootOf(expression: string): string | undefined {
  let path = expression.trim();
  if (path.startsWith("$.")) path = path.slice(2);
  else if (path.startsWith("$[")) path = path.slice(1);
  const quoted = /^\[\s*(['"])([^'"\\]*)\1\s*\]/.exec(path);
  if (quoted) return quoted[2];
  // A name followed by anything but a step (`a${b}`, `a$b`) is not read as one: all entries go.
  return /^([^.[\]\s${}()*?@,:'"]+)(?=$|[.[\s])/.exec(path)?.[1];
}
