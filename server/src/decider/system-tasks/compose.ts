// Tasks that run other definitions: DYNAMIC, SUB_WORKFLOW, START_WORKFLOW (child runs are effects).
import type { TaskContext } from "../task-context.js";
import type { EvaluationRequest } from "../evaluation.js";
import type { Json, JsonObject, TaskState } from "../model.js";
import { FilterDeferred } from "../../expressions/index.js";
import type { SystemTask } from "./contract.js";
import { fail, inProgress } from "./outcomes.js";

export const dynamic: SystemTask = {
  start(d, task) {
    const wt = d.workflowTaskOf(task)!;
    const name = task.input[wt.dynamicTaskNameParam ?? "taskToExecute"];
    if (typeof name !== "string" || !name) {
      fail(d, task, `DYNAMIC needs the task name in input ${wt.dynamicTaskNameParam ?? "taskToExecute"}`, true);
      return;
    }
    // The dynamic task becomes the named task in place (Conductor).
    const def = d.taskDefs.get(name);
    task.type = "SIMPLE";
    task.defName = name;
    task.responseTimeoutSeconds = def?.responseTimeoutSeconds ?? 3600;
    task.timeoutSeconds = def?.timeoutSeconds ?? 0;
    task.marks.workflowTask = { ...wt, name, type: "SIMPLE" };
    d.touch(task);
    d.dispatch(task);
  },
};

/** What a SUB_WORKFLOW's subWorkflowParam resolves to: name and version, and an inline definition when given. */
interface ChildParams {
  resolved: JsonObject;
  inline: Json | undefined;
}

/** The subWorkflowParam to resolve: an inline definition's own `${...}` belong to the child, so only a whole-expression reference is resolved here. */
function paramsTemplate(d: TaskContext, task: TaskState): { params: JsonObject; definition: Json } {
  const { workflowDefinition, ...params } = (d.workflowTaskOf(task)!.subWorkflowParam ?? {}) as JsonObject;
  return { params, definition: typeof workflowDefinition === "string" ? workflowDefinition : null };
}

function childParams(d: TaskContext, task: TaskState, resolved: { params: Json; definition: Json }): ChildParams {
  const written = (d.workflowTaskOf(task)!.subWorkflowParam ?? {}) as JsonObject;
  return {
    resolved: resolved.params as JsonObject,
    inline: typeof written["workflowDefinition"] === "string" ? resolved.definition : written["workflowDefinition"],
  };
}

/** Parameters that read a filter are resolved in the queries pool: the task asks, and starts its child on the answer. */
function paramsResolution(d: TaskContext, task: TaskState): EvaluationRequest {
  const template = paramsTemplate(d, task);
  return { kind: "resolve", template, context: d.snapshot(template), taskId: task.id };
}

export const subWorkflow: SystemTask = {
  start(d, task) {
    let params: ChildParams;
    try {
      const template = paramsTemplate(d, task);
      params = childParams(d, task, { params: d.resolveValue(template.params, task.id), definition: d.resolveValue(template.definition, task.id) });
    } catch (error) {
      if (!(error instanceof FilterDeferred)) throw error;
      return d.requestEvaluation(task, paramsResolution(d, task));
    }
    startChild(d, task, params);
  },
  // Asked again only while its parameters are awaited (no child yet).
  evaluation: (d, task) => (task.subWorkflowId ? undefined : paramsResolution(d, task)),
  onEvaluated(d, task, outcome) {
    if (!outcome.ok) return fail(d, task, `resolving subWorkflowParam failed: ${outcome.message}`, true);
    startChild(d, task, childParams(d, task, outcome.value as { params: Json; definition: Json }));
  },
};

function startChild(d: TaskContext, task: TaskState, { resolved, inline }: ChildParams): void {
  const wt = d.workflowTaskOf(task)!;
  const name = typeof resolved["name"] === "string" ? resolved["name"] : "";
  const written = typeof (wt.subWorkflowParam as JsonObject | undefined)?.["workflowDefinition"] === "object" && d.graph.task(d.defRef(task)) !== undefined;
  if (inline !== undefined && inline !== null && !written && d.services?.inlineDefinitionsFromData === false) {
    fail(
      d,
      task,
      "SUB_WORKFLOW takes its definition from run data, which this server refuses: register the definition and name it in subWorkflowParam.name, or start the server with --allow-inline-definitions",
      true,
    );
    return;
  }
  if (!name && !(inline && typeof inline === "object")) {
    fail(d, task, "SUB_WORKFLOW needs subWorkflowParam.name or an inline workflowDefinition", true);
    return;
  }
  const depth = d.run.marks.depth ?? 0;
  if (depth >= 32) {
    fail(d, task, `sub-workflow nesting deeper than 32 levels (a workflow that starts itself?)`, true);
    return;
  }
  const childId = d.newId();
  task.subWorkflowId = childId;
  task.output = { subWorkflowId: childId };
  inProgress(d, task);
  const version = resolved["version"];
  d.effects.push({
    kind: "startRun",
    request: {
      runId: childId,
      parentTaskId: task.id,
      name: name || String((inline as JsonObject)["name"] ?? ""),
      ...(typeof version === "number" || (typeof version === "string" && version !== "") ? { version: Number(version) } : {}),
      ...(inline && typeof inline === "object" ? { definition: inline as never } : {}),
      input: task.input,
      correlationId: d.run.correlationId,
      priority: d.run.priority,
      linked: true,
      depth: depth + 1,
      root: d.run.marks.root ?? d.run.id,
    },
  });
}

export const startWorkflow: SystemTask = {
  start(d, task) {
    const request = task.input["startWorkflow"];
    const r = (request && typeof request === "object" && !Array.isArray(request) ? request : {}) as JsonObject;
    const malformed =
      typeof r["name"] !== "string" || !r["name"]
        ? "a name"
        : r["version"] !== undefined && r["version"] !== null && typeof r["version"] !== "number"
          ? "a numeric version"
          : r["input"] !== undefined && r["input"] !== null && (typeof r["input"] !== "object" || Array.isArray(r["input"]))
            ? "an object input"
            : "";
    if (malformed) {
      fail(d, task, `START_WORKFLOW needs input startWorkflow: {name, version?, input?, correlationId?} with ${malformed}`);
      return;
    }
    const childId = d.newId();
    d.effects.push({
      kind: "startRun",
      request: {
        runId: childId,
        parentTaskId: "",
        name: r["name"] as string,
        ...(typeof r["version"] === "number" ? { version: r["version"] } : {}),
        input: (r["input"] ?? {}) as JsonObject,
        correlationId: typeof r["correlationId"] === "string" ? r["correlationId"] : d.run.correlationId,
        priority: d.run.priority,
        linked: false,
        depth: (d.run.marks.depth ?? 0) + 1,
        root: d.run.marks.root ?? d.run.id,
        failTaskIfMissing: task.id,
      },
    });
    // Completes (or fails, when the run cannot be started) once the start has happened: see runStarted.
    task.output = { workflowId: childId };
    inProgress(d, task);
  },
};
