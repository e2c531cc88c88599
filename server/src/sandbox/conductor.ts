// How Conductor turns its script tasks into code and script results into
// decisions, so that definitions written for Conductor behave the same here.
import type { Json } from "../expressions/json.js";

/**
 * LAMBDA's `scriptExpression` is a function body (it may `return`); Conductor
 * runs it as `function scriptFun(){<body>} scriptFun();` and stores the value
 * under `result`.
 */
export function lambdaSource(scriptExpression: string): string {
  return `function scriptFun(){${scriptExpression}\n} scriptFun();`;
}

/**
 * Conductor's ScriptEvaluator.toBoolean, used for DO_WHILE's loopCondition:
 * a boolean is itself, a number is true when above 0, anything else is false
 * (so the string "false" is false, unlike JavaScript's truthiness).
 */
export function scriptTruth(value: Json): boolean {
  if (typeof value === "boolean") return value;
  if (typeof value === "number") return value > 0;
  return false;
}
