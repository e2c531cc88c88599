// Tasks the server computes: INLINE, LAMBDA and JSON_JQ_TRANSFORM, each asked for as an
// evaluation (run off the serving thread) and completed by its answer.
import type { TaskContext } from "../task-context.js";
import type { EvaluationRequest } from "../evaluation.js";
import type { Json, TaskState } from "../model.js";
import { lambdaSource } from "../../sandbox/conductor.js";
import type { SystemTask } from "./contract.js";
import { complete, fail } from "./outcomes.js";

function inlineScript(d: TaskContext, task: TaskState): EvaluationRequest | undefined {
  const expression = task.input["expression"];
  return typeof expression === "string" ? { kind: "script", source: expression, bindings: task.input } : undefined;
}

export const inline: SystemTask = {
  start(d, task) {
    const wt = d.workflowTaskOf(task);
    const evaluator = (task.input["evaluatorType"] as string | undefined) ?? wt?.evaluatorType ?? "javascript";
    const expression = task.input["expression"];
    if (typeof expression !== "string") {
      fail(d, task, "INLINE needs an `expression` input", true);
      return;
    }
    if (evaluator === "value-param") complete(d, task, { result: task.input[expression] ?? null });
    else d.requestEvaluation(task, inlineScript(d, task)!);
  },
  evaluation: inlineScript,
  onEvaluated(d, task, outcome) {
    if (outcome.ok) return complete(d, task, { result: outcome.value });
    // Conductor: a script that throws is a terminal failure, its message in output.error for `${ref.output.error}`.
    task.output = { error: outcome.message };
    fail(d, task, outcome.message, true);
  },
};

function lambdaScript(_d: TaskContext, task: TaskState): EvaluationRequest | undefined {
  const script = task.input["scriptExpression"];
  return typeof script === "string" ? { kind: "script", source: lambdaSource(script), bindings: task.input } : undefined;
}

export const lambda: SystemTask = {
  start(d, task) {
    const request = lambdaScript(d, task);
    if (!request) {
      fail(d, task, "LAMBDA needs a `scriptExpression` input", true);
      return;
    }
    d.requestEvaluation(task, request);
  },
  evaluation: lambdaScript,
  onEvaluated(d, task, outcome) {
    if (outcome.ok) complete(d, task, { result: outcome.value });
    else fail(d, task, outcome.message);
  },
};

function jqFilter(_d: TaskContext, task: TaskState): EvaluationRequest | undefined {
  const { queryExpression, ...input } = task.input;
  return typeof queryExpression === "string" ? { kind: "jq", filter: queryExpression, input } : undefined;
}

export const jqTransform: SystemTask = {
  start(d, task) {
    const request = jqFilter(d, task);
    if (!request) {
      fail(d, task, "JSON_JQ_TRANSFORM needs a `queryExpression` input", true);
      return;
    }
    d.requestEvaluation(task, request);
  },
  evaluation: jqFilter,
  onEvaluated(d, task, outcome) {
    if (outcome.ok) {
      const { result, resultList } = outcome.value as { result: Json; resultList: Json[] };
      complete(d, task, { result, resultList });
    } else {
      // The message as jq's error() gave it, without the jq CLI's prefix (Conductor's jq gives it bare).
      const message = outcome.message.replace(/^jq: error \(at [^)]*\): /, "");
      task.output = { error: message };
      fail(d, task, message);
    }
  },
};
