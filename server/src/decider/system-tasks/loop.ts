// DO_WHILE: a body run once per iteration while its condition holds (or once per item).
import type { TaskContext } from "../task-context.js";
import type { EvaluationRequest } from "../evaluation.js";
import type { JsonObject, TaskState } from "../model.js";
import { scriptTruth } from "../../sandbox/conductor.js";
import { fieldsRead } from "../../sandbox/script-reads.js";
import { FilterDeferred } from "../../expressions/index.js";
import type { SystemTask } from "./contract.js";
import { deleteIterationEntry, loopOutputBytes, setIterationEntry } from "../loop-output.js";
import { outputLimit, overLimitReason } from "../output-limit.js";
import { complete, fail, inProgress } from "./outcomes.js";

export const doWhile: SystemTask = {
  reopen: true,
  start(d, task) {
    task.marks.outerIteration = task.iteration;
    const items = task.input["items"];
    if (items !== undefined && !Array.isArray(items)) {
      fail(d, task, "DO_WHILE items must be a list", true);
      return;
    }
    if (Array.isArray(items) && items.length === 0) {
      complete(d, task, { iteration: 0 });
      return;
    }
    inProgress(d, task);
    nextIteration(d, task, 1);
  },
  onChildEnded(d, task) {
    const wt = d.workflowTaskOf(task)!;
    const n = currentIteration(task);
    collectIteration(d, task);
    const output = task.output;
    const keep = Number(task.input["keepLastN"] ?? (wt.inputParameters?.["keepLastN"] as number | undefined) ?? 0);
    if (keep > 0) for (const key of Object.keys(output)) if (/^\d+$/.test(key) && Number(key) <= n - keep) deleteIterationEntry(output, key);
    d.touch(task);
    // The loop stops before its stored output would pass the limit: the iteration that would is not kept.
    const bytes = loopOutputBytes(output);
    const limit = outputLimit(d.services);
    if (bytes > limit) {
      deleteIterationEntry(output, String(n));
      return fail(d, task, `iteration ${n}: ${overLimitReason(task, bytes, limit)}`);
    }
    const items = task.input["items"];
    if (!Array.isArray(items)) return d.requestEvaluation(task, loopCondition(d, task));
    if (n < items.length) nextIteration(d, task, n + 1);
    else d.endTask(task, "COMPLETED", "");
  },
  evaluation(d, task) {
    return task.marks.continueAt !== undefined ? { kind: "continue", of: "loop" } : loopCondition(d, task);
  },
  onEvaluated(d, task, outcome) {
    const continueAt = task.marks.continueAt;
    if (continueAt !== undefined) {
      delete task.marks.continueAt;
      return nextIteration(d, task, continueAt);
    }
    if (!outcome.ok) fail(d, task, `evaluating the loopCondition failed: ${outcome.message}`, true);
    else if (scriptTruth(outcome.value)) nextIteration(d, task, currentIteration(task) + 1);
    else d.endTask(task, "COMPLETED", "");
  },
};

/** The iteration a loop is in (Conductor keeps it in the loop's output; 1 before the first is recorded). */
function currentIteration(loop: TaskState): number {
  return Number(loop.output["iteration"] ?? 1);
}

/** Records the current iteration's task outputs under the loop's output[n] (Conductor's shape), from that iteration's tasks only. */
export function collectIteration(d: TaskContext, loop: TaskState): JsonObject {
  const n = currentIteration(loop);
  const bodyRefs = d.graph.descendants(d.defRef(loop));
  const iterationOutput: JsonObject = {};
  for (const t of d.tasksOfIteration(n)) {
    const ref = d.defRef(t);
    if (t.iteration === n && bodyRefs.has(ref)) iterationOutput[ref] = t.output;
  }
  setIterationEntry(d.ownOutput(loop), String(n), iterationOutput);
  return iterationOutput;
}

/**
 * The loopCondition with its bindings: the loop's inputs resolved afresh
 * (variables may have changed), its output, and the iteration's outputs. The
 * loop's output holds every iteration's entry: a condition that reads only
 * fixed fields of it (`$.loop['iteration']`) is bound only those, so an
 * iteration's condition costs the same whatever came before it.
 */
function loopCondition(d: TaskContext, task: TaskState): EvaluationRequest {
  const wt = d.workflowTaskOf(task)!;
  const n = currentIteration(task);
  const parameters = wt.inputParameters ?? {};
  let resolved: JsonObject | undefined;
  try {
    resolved = d.resolve(parameters, task.id);
  } catch (error) {
    if (!(error instanceof FilterDeferred)) throw error;
  }
  const source = wt.loopCondition ?? "false";
  const loopRef = d.defRef(task);
  const bindings: JsonObject = { ...resolved, [loopRef]: fieldsOf(task.output, fieldsRead(source, loopRef)) };
  const iterationOutput = task.output[String(n)];
  if (iterationOutput && typeof iterationOutput === "object" && !Array.isArray(iterationOutput)) {
    for (const [ref, out] of Object.entries(iterationOutput)) bindings[ref] = out;
  }
  // Inputs that read a filter are resolved in the queries pool, then bound under the rest, before the script runs.
  if (resolved) return { kind: "script", source, bindings };
  return { kind: "script", source, bindings, resolve: { template: parameters, context: d.snapshot(parameters), taskId: task.id } };
}

/** The fields of `output` named (those it has), or all of it when undefined. */
function fieldsOf(output: JsonObject, fields: string[] | undefined): JsonObject {
  if (fields === undefined) return output;
  const picked: JsonObject = {};
  for (const field of fields) if (Object.hasOwn(output, field)) picked[field] = output[field]!;
  return picked;
}

/** Starts iteration `n` if this decision's budget allows; otherwise the loop goes on in the next event. */
function nextIteration(d: TaskContext, task: TaskState, n: number): void {
  if (d.spendIteration()) return startIteration(d, task, n);
  task.marks.continueAt = n;
  d.requestEvaluation(task, { kind: "continue", of: "loop" });
}

function startIteration(d: TaskContext, task: TaskState, n: number): void {
  const wt = d.workflowTaskOf(task)!;
  const items = task.input["items"];
  const output = d.ownOutput(task);
  output["iteration"] = n;
  if (Array.isArray(items)) {
    output["item"] = items[n - 1] ?? null;
    output["index"] = n - 1;
  }
  // Conductor: the loop task's own `iteration` counts its iterations (`${loop['iteration']}`).
  task.iteration = n;
  d.touch(task);
  const first = wt.loopOver?.[0];
  if (first) d.scheduleOrJump(first, n);
  else d.endTask(task, "COMPLETED", "");
}
