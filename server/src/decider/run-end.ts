// How a run ends: completed (or failed, when a permissive task failed),
// failed by a task, or ended by a status given (terminate, timeout, a
// TERMINATE task). Ending cancels what is open, evaluates the output and
// starts the failure workflow.
import { TERMINAL_TASK, type JsonObject, type RunState, type TaskState, type WorkflowStatus } from "./model.js";
import type { DecisionContext } from "./decision-context.js";
import { isWorkerTask } from "./system-tasks/index.js";
import { outputLimit } from "./output-limit.js";
import { limitRunOutput } from "./run-output-limit.js";

/** Conductor lists every reference that failed, once each. */
export function recordFailedRef(run: RunState, ref: string): void {
  if (!run.failedRefs.includes(ref)) run.failedRefs = [...run.failedRefs, ref];
}

/** Every task ended: the run completes, or fails for the permissive task that failed first. */
export function complete(d: DecisionContext): void {
  const permissive = d.run.marks.permissiveFailure;
  if (permissive) {
    d.run.failedTaskId = permissive.taskId;
    endRun(d, "FAILED", `Task ${permissive.taskId} failed with status: ${permissive.status} and reason: '${permissive.reason}'`);
    return;
  }
  endRun(d, "COMPLETED", "");
}

/** Ends the run because `task` failed for good. */
export function failBy(d: DecisionContext, task: TaskState): void {
  recordFailedRef(d.run, task.ref);
  d.run.failedTaskId = task.id;
  const status: WorkflowStatus = task.status === "TIMED_OUT" ? "TIMED_OUT" : task.status === "CANCELED" ? "TERMINATED" : "FAILED";
  endRun(d, status, `Task ${task.id} failed with status: ${task.status} and reason: '${task.reason}'`);
}

/** Ends the run: cancels what is open, evaluates the output, tells whoever waits. */
export function endRun(d: DecisionContext, status: WorkflowStatus, reason: string, output?: JsonObject): void {
  const run = d.run;
  run.marks.canceling = true;
  for (const task of d.tasks) {
    if (TERMINAL_TASK.has(task.status)) continue;
    // Conductor gives a task canceled with its run no reason of its own (the run's says why).
    d.endTask(task, "CANCELED", "");
    task.handled = true;
    if (isWorkerTask(task.type)) d.effects.push({ kind: "dequeue", taskId: task.id });
    if (task.subWorkflowId) d.effects.push({ kind: "terminateRun", runId: task.subWorkflowId, reason: `parent workflow ${status}` });
  }
  delete run.marks.canceling;
  // Conductor evaluates outputParameters before a completing run ends: `${workflow.status}` reads RUNNING.
  if (status === "COMPLETED") output ??= workflowOutput(d);
  run.status = status;
  run.reason = reason;
  run.endedAt = d.now;
  run.output = output ?? workflowOutput(d);
  const capped = limitRunOutput(run, outputLimit(d.services));
  if (capped) Object.assign(run, capped);
  const failureWorkflow = run.status !== "COMPLETED" ? failureWorkflowName(d) : "";
  if (failureWorkflow && !run.marks.failureWorkflowStarted) {
    run.marks.failureWorkflowStarted = true;
    const failureRunId = d.newId();
    run.output = { ...run.output, "conductor.failure_workflow": failureRunId };
    d.effects.push({
      kind: "startRun",
      request: {
        runId: failureRunId,
        parentTaskId: "",
        name: failureWorkflow,
        ...(d.def.failureWorkflowVersion !== undefined ? { version: d.def.failureWorkflowVersion } : {}),
        input: {
          ...run.input,
          workflowId: run.id,
          reason: run.reason,
          failureStatus: run.status,
          failureTaskId: run.failedTaskId,
          failedWorkflow: snapshot(d),
        } as JsonObject,
        correlationId: run.correlationId,
        priority: run.priority,
        linked: false,
        depth: (run.marks.depth ?? 0) + 1,
      },
    });
  }
  d.effects.push({ kind: "runEnded" });
}

/**
 * The failure workflow's name: as written, or taken from the run's input when
 * written `$workflow.input.<name>` (Conductor) or as a `${...}` expression.
 */
function failureWorkflowName(d: DecisionContext): string {
  const name = d.def.failureWorkflow ?? "";
  if (name.startsWith("${")) {
    const value = d.resolveWithFilters(name);
    return typeof value === "string" ? value : "";
  }
  if (name.startsWith("$")) {
    const key = name.split(".")[2];
    const value = key !== undefined ? d.run.input[key] : undefined;
    return typeof value === "string" ? value : "";
  }
  return name;
}

function workflowOutput(d: DecisionContext): JsonObject {
  const params = d.def.outputParameters;
  if (params && Object.keys(params).length > 0) return d.resolveWithFilters(params) as JsonObject;
  // Conductor: without outputParameters the output is the last task's output, whatever its status.
  const last = d.tasks[d.tasks.length - 1];
  return last ? { ...last.output } : {};
}

/** The ended run as its failure workflow receives it (Conductor's failedWorkflow). */
function snapshot(d: DecisionContext): JsonObject {
  const run = d.run;
  return {
    workflowId: run.id,
    workflowName: run.name,
    workflowVersion: run.version,
    status: run.status,
    input: run.input,
    output: run.output,
    reasonForIncompletion: run.reason,
    correlationId: run.correlationId,
    failedReferenceTaskNames: run.failedRefs,
    tasks: d.tasks.map((t) => ({
      taskId: t.id,
      referenceTaskName: t.ref,
      taskType: t.type,
      status: t.status,
      reasonForIncompletion: t.reason,
    })),
  };
}
