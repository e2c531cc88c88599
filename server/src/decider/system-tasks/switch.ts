// SWITCH, DECISION and EXCLUSIVE_JOIN: one list of tasks chosen by a value or a script.
import { stringifyJson } from "@baton/json";
import type { TaskContext } from "../task-context.js";
import type { EvaluationRequest } from "../evaluation.js";
import { SUCCESSFUL_TASK, type TaskState } from "../model.js";
import type { SystemTask } from "./contract.js";
import { joinRefs } from "./fork.js";
import { complete, fail, inProgress, completeAndEnter } from "./outcomes.js";

function caseValue(value: unknown): string {
  if (value === undefined || value === null) return "null";
  return typeof value === "string" ? value : stringifyJson(value);
}

/** The script that picks a SWITCH's (or DECISION's) case, when it is not a plain input value. */
function caseScript(d: TaskContext, task: TaskState): EvaluationRequest | undefined {
  const wt = d.workflowTaskOf(task)!;
  if (task.type === "SWITCH") {
    return (wt.evaluatorType ?? "value-param") === "value-param" ? undefined : { kind: "script", source: wt.expression ?? "", bindings: task.input };
  }
  return wt.caseExpression ? { kind: "script", source: wt.caseExpression, bindings: task.input } : undefined;
}

export const decision: SystemTask = {
  start(d, task) {
    const script = caseScript(d, task);
    if (script) return d.requestEvaluation(task, script);
    const wt = d.workflowTaskOf(task)!;
    enterCase(d, task, task.type === "SWITCH" ? task.input[wt.expression ?? ""] : task.input[wt.caseValueParam ?? ""]);
  },
  evaluation: caseScript,
  onEvaluated(d, task, outcome) {
    if (!outcome.ok) fail(d, task, `evaluating the ${task.type} expression failed: ${outcome.message}`, true);
    else enterCase(d, task, outcome.value);
  },
};

function enterCase(d: TaskContext, task: TaskState, value: unknown): void {
  const wt = d.workflowTaskOf(task)!;
  {
    const key = caseValue(value);
    const cases = wt.decisionCases ?? {};
    // Conductor: a case with no tasks is no case, the default case runs.
    const branch = Object.prototype.hasOwnProperty.call(cases, key) && cases[key]!.length > 0 ? cases[key] : wt.defaultCase;
    task.output = task.type === "SWITCH" ? { evaluationResult: [key], selectedCase: key } : { caseOutput: [key] };
    completeAndEnter(d, task, branch?.[0], task.iteration);
  }
}

export const exclusiveJoin: SystemTask = {
  reopen: true,
  start(d, task) {
    inProgress(d, task);
    exclusiveJoin.onChildEnded!(d, task);
  },
  onChildEnded(d, task) {
    const latest = d.latestByRef();
    const wt = d.workflowTaskOf(task);
    for (const ref of [...joinRefs(d, task), ...(wt?.defaultExclusiveJoinTask ?? [])]) {
      const done = latest.get(ref);
      if (done && SUCCESSFUL_TASK.has(done.status) && done.status !== "SKIPPED") {
        complete(d, task, { ...done.output });
        return;
      }
    }
  },
};
