// Tasks that run other definitions: DYNAMIC, SUB_WORKFLOW, START_WORKFLOW (child runs are effects).
import type { JsonObject } from "../model.js";
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

export const subWorkflow: SystemTask = {
  start(d, task) {
    const wt = d.workflowTaskOf(task)!;
    const { workflowDefinition, ...params } = (wt.subWorkflowParam ?? {}) as JsonObject;
    const resolved = d.resolveValue(params, task.id) as JsonObject;
    const name = typeof resolved["name"] === "string" ? resolved["name"] : "";
    // An inline definition's own `${...}` belong to the child: only a whole-expression reference is resolved here.
    const inline = typeof workflowDefinition === "string" ? d.resolveValue(workflowDefinition, task.id) : workflowDefinition;
    const written = typeof workflowDefinition === "object" && d.graph.task(d.defRef(task)) !== undefined;
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
      },
    });
  },
};

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
        failTaskIfMissing: task.id,
      },
    });
    // Completes (or fails, when the run cannot be started) once the start has happened: see runStarted.
    task.output = { workflowId: childId };
    inProgress(d, task);
  },
};
