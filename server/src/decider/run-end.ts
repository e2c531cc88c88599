// How a run ends: completed (or failed, when a permissive task failed),
// failed by a task, or ended by a status given (terminate, timeout, a
// TERMINATE task). Ending cancels what is open, evaluates the output and
// starts the failure workflow; an output or failure workflow name that reads a
// JSONPath filter is resolved in the queries pool, and the run ends when the
// answer comes back.
import { abridged } from "@baton/json";
import {
  TERMINAL_TASK,
  TERMINAL_WORKFLOW,
  type Json,
  type JsonObject,
  type PendingEnding,
  type RunState,
  type TaskState,
  type WorkflowStatus,
} from "./model.js";
import type { RunEvent } from "./contract.js";
import type { DecisionContext } from "./decision-context.js";
import { evaluationLeaseAt } from "./deadlines.js";
import type { EvaluationRequest } from "./evaluation.js";
import { FilterDeferred } from "../expressions/index.js";
import { isWorkerTask } from "./system-tasks/index.js";
import { outputLimit } from "./output-limit.js";
import { limitRunOutput } from "./run-output-limit.js";
import { sameText } from "../payload-text.js";

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

/**
 * Ends the run: cancels what is open, evaluates the output, tells whoever
 * waits. When the output or the failure workflow's name reads a JSONPath
 * filter, the queries pool resolves it: the run keeps its status (RUNNING
 * for Conductor's readers) until the answer, an `evaluated` event, ends it.
 */
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
  // A new ending (a terminate while the run waited for its output) takes the place of the one waiting: its answer comes late.
  run.marks.ending = { status, reason, ...(output ? { output } : {}), leaseToken: "", leaseExpiresAt: 0 };
  proceed(d);
}

/** Whether the run waits for its ending's answer from the queries pool. */
export function isEnding(run: RunState): boolean {
  return run.marks.ending !== undefined && !TERMINAL_WORKFLOW.has(run.status);
}

/** The ending's lease ran out (the process that asked died): ask again. */
export function askEndingAgain(d: DecisionContext): void {
  proceed(d);
}

/** The queries pool's answer for the run's ending: its output, or then its failure workflow's name. */
export function endingResolved(d: DecisionContext, event: Extract<RunEvent, { kind: "evaluated" }>): void {
  const ending = d.run.marks.ending;
  // Late: asked again since, or the run ended otherwise.
  if (!ending || ending.leaseToken !== event.leaseToken || TERMINAL_WORKFLOW.has(d.run.status)) {
    d.applied = false;
    return;
  }
  const outcome = event.outcome;
  if (ending.output === undefined) {
    if (outcome.ok && outcome.value !== null && typeof outcome.value === "object" && !Array.isArray(outcome.value)) ending.output = outcome.value;
    else {
      const why = `resolving the workflow's outputParameters failed: ${outcome.ok ? "they did not resolve to an object" : outcome.message}`;
      if (ending.status === "COMPLETED") ending.status = "FAILED";
      ending.reason = ending.reason ? `${ending.reason}; ${why}` : why;
      ending.output = {};
    }
  } else {
    ending.failureWorkflow = outcome.ok ? nameIn(outcome.value) : "";
    if (!outcome.ok) ending.reason = `${ending.reason}; the failure workflow's name could not be resolved: ${outcome.message}`;
  }
  proceed(d);
}

/**
 * Goes on with the run's ending: the output, then the failure workflow's
 * name, each resolved here or asked of the queries pool (then it waits for
 * the answer); once both are known, the run ends.
 */
function proceed(d: DecisionContext): void {
  const run = d.run;
  const ending = run.marks.ending!;
  ending.leaseToken = "";
  ending.leaseExpiresAt = 0;
  if (ending.output === undefined) {
    // Conductor evaluates outputParameters before a completing run ends: `${workflow.status}` reads RUNNING.
    const view = ending.status === "COMPLETED" ? {} : { status: ending.status, reason: ending.reason };
    const output = asEnded(run, view, () => workflowOutput(d, ending));
    if (output === undefined) return;
    ending.output = output;
  }
  const ended = { status: ending.status, reason: ending.reason, output: ending.output };
  Object.assign(ended, limitRunOutput(ended, outputLimit(d.services)));
  if (ended.status !== "COMPLETED" && !run.marks.failureWorkflowStarted && ending.failureWorkflow === undefined) {
    const name = asEnded(run, ended, () => failureWorkflowName(d, ending));
    if (name === undefined) return;
    ending.failureWorkflow = name;
  }
  const failureWorkflow = ended.status !== "COMPLETED" ? (ending.failureWorkflow ?? "") : "";
  delete run.marks.ending;
  run.status = ended.status;
  run.reason = abridged(ended.reason); // it may quote a task's reason, and more
  run.endedAt = d.now;
  run.output = ended.output;
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
        root: run.marks.root ?? run.id,
        ...(run.marks.root === undefined ? { pastTreeBound: true } : {}),
      },
    });
  }
  d.effects.push({ kind: "runEnded" });
}

/** Reads `read` with the run as it will have ended (`${workflow.status}` and the rest), then puts the run back. */
function asEnded<T>(run: RunState, view: Partial<Pick<RunState, "status" | "reason" | "output">>, read: () => T): T {
  const before = { status: run.status, reason: run.reason, output: run.output };
  Object.assign(run, view);
  try {
    return read();
  } finally {
    Object.assign(run, before);
  }
}

/**
 * `template` resolved, or undefined when it reads a filter: it is then asked
 * of the queries pool, against the run as it reads now, under a lease.
 */
function resolveOrAsk(d: DecisionContext, ending: PendingEnding, template: Json): Json | undefined {
  try {
    return d.resolveValue(template);
  } catch (error) {
    if (!(error instanceof FilterDeferred)) throw error;
  }
  const request: EvaluationRequest = { kind: "resolve", template, context: d.snapshot(template) };
  ending.leaseToken = d.newId();
  ending.leaseExpiresAt = evaluationLeaseAt(d.now, request);
  d.effects.push({ kind: "evaluate", task: undefined, leaseToken: ending.leaseToken, request });
  return undefined;
}

/**
 * The failure workflow's name: as written, or taken from the run's input when
 * written `$workflow.input.<name>` (Conductor) or as a `${...}` expression.
 * Undefined: it was asked of the queries pool.
 */
function failureWorkflowName(d: DecisionContext, ending: PendingEnding): string | undefined {
  const name = d.def.failureWorkflow ?? "";
  if (name.startsWith("${")) {
    const value = resolveOrAsk(d, ending, name);
    return value === undefined ? undefined : nameIn(value);
  }
  if (name.startsWith("$")) {
    const key = name.split(".")[2];
    const value = key !== undefined ? d.run.input[key] : undefined;
    return typeof value === "string" ? value : "";
  }
  return name;
}

/** A name resolved: text, or the one text a filter matched (a filter reads as a list); "" for anything else. */
function nameIn(value: Json): string {
  const name = Array.isArray(value) && value.length === 1 ? value[0] : value;
  return typeof name === "string" ? name : "";
}

/** The run's output, or undefined when its outputParameters were asked of the queries pool. */
function workflowOutput(d: DecisionContext, ending: PendingEnding): JsonObject | undefined {
  const params = d.def.outputParameters;
  if (params && Object.keys(params).length > 0) return resolveOrAsk(d, ending, params as JsonObject) as JsonObject | undefined;
  // Conductor: without outputParameters the output is the last task's output, whatever its status.
  const last = d.tasks[d.tasks.length - 1];
  return last ? sameText({ ...last.output }, last.output) : {};
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
