// A workflow's limit of running runs per key, from Conductor's
// `rateLimitConfig` {rateLimitKey, concurrentExecLimit} and Baton's optional
// `strategy` beside them: QUEUE (the default: over the limit a run waits,
// RUNNING with no task, and starts in start order when a slot frees),
// CANCEL_NEWEST (the new run ends TERMINATED at once) or CANCEL_OLDEST (the
// key's oldest running run is terminated to make room). The key is the
// value of an expression over the start (`${workflow.input.customerId}`,
// `${workflow.correlationId}`), or a constant shared by all the workflow's
// runs; runs whose key has no value share the key "".
import type { WorkflowDef } from "@baton/sdk";
import type { JsonObject } from "../decider/model.js";
import { fairKeyOf } from "../fairness/key.js";
import type { Strategy } from "../store/concurrency.js";

export interface RunLimit {
  key: string;
  limit: number;
  strategy: Strategy;
}

/** The limit that applies to a run of `def` starting with this input; undefined when the workflow has none. */
export function runLimitOf(def: WorkflowDef, input: JsonObject, correlationId: string): RunLimit | undefined {
  const config = def.rateLimitConfig;
  if (!config || typeof config !== "object") return undefined;
  const limit = config["concurrentExecLimit"];
  if (typeof limit !== "number" || limit <= 0) return undefined;
  const expression = typeof config["rateLimitKey"] === "string" ? config["rateLimitKey"] : "";
  const key = expression.includes("${") ? fairKeyOf(expression, input, correlationId) : expression;
  const strategy = config["strategy"];
  return { key, limit, strategy: strategy === "CANCEL_NEWEST" || strategy === "CANCEL_OLDEST" ? strategy : "QUEUE" };
}

/** Whether runs of `def` take a slot when they start. */
export function hasRunLimit(def: WorkflowDef): boolean {
  const limit = def.rateLimitConfig?.["concurrentExecLimit"];
  return typeof limit === "number" && limit > 0;
}
