// Tasks that change the run itself: SET_VARIABLE, TERMINATE, NOOP.
import { TERMINAL_TASK, type JsonObject, type WorkflowStatus } from "../model.js";
import { variablesOverLimit } from "../../rules/variables.js";
import type { SystemTask } from "./contract.js";
import { collectIteration } from "./loop.js";
import { complete, fail } from "./outcomes.js";

export const setVariable: SystemTask = {
  start(d, task) {
    const variables = { ...d.run.variables, ...task.input };
    const over = variablesOverLimit(variables, d.services?.maxVariablesBytes);
    if (over) {
      fail(d, task, over, true);
      return;
    }
    d.run.variables = variables;
    complete(d, task, {});
  },
};

export const terminate: SystemTask = {
  start(d, task) {
    const status = task.input["terminationStatus"];
    if (status !== "COMPLETED" && status !== "FAILED" && status !== "TERMINATED") {
      fail(d, task, `terminationStatus must be COMPLETED, FAILED or TERMINATED, not ${JSON.stringify(status ?? null)}`, true);
      return;
    }
    const reason = typeof task.input["terminationReason"] === "string" ? (task.input["terminationReason"] as string) : "";
    const workflowOutput = task.input["workflowOutput"];
    // Conductor: an object becomes the output as it is, any other value is wrapped as {output: value}.
    const output: JsonObject | undefined =
      workflowOutput === undefined || workflowOutput === null
        ? undefined
        : typeof workflowOutput === "object" && !Array.isArray(workflowOutput)
          ? { ...(workflowOutput as JsonObject) }
          : { output: workflowOutput };
    // Conductor: the loops this TERMINATE sits in keep the ending iteration's outputs (taken before
    // the TERMINATE's own output is set) and end CANCELED with no reason of their own.
    const ref = d.defRef(task);
    for (const loop of d.tasks) {
      if (loop.type !== "DO_WHILE" || TERMINAL_TASK.has(loop.status) || !d.graph.descendants(d.defRef(loop)).has(ref)) continue;
      collectIteration(d, loop);
      d.endTask(loop, "CANCELED", "");
      loop.handled = true;
    }
    complete(d, task, output ?? {});
    task.handled = true;
    if (status !== "COMPLETED") {
      d.run.failedTaskId = task.id;
    }
    // Conductor: without workflowOutput the output is empty (outputParameters are not evaluated).
    d.endRun(status as WorkflowStatus, reason || `Workflow is ${status} by TERMINATE task: ${task.id}`, output ?? {});
  },
};

export const noop: SystemTask = {
  start(d, task) {
    complete(d, task, {});
  },
};
