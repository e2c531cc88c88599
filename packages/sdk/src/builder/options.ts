// Settings every step may carry (WorkflowTask fields that are not about its type).
import type { JsonObject, TaskDef } from "../def.js";

export interface StepOptions {
  /** The taskReferenceName; derived from the task name when absent (name, name_2, ...). */
  ref?: string;
  description?: string;
  /** A failure does not fail the flow: the task ends COMPLETED_WITH_ERRORS. */
  optional?: boolean;
  /** A failure lets the flow go on, and the flow ends FAILED. */
  permissive?: boolean;
  startDelay?: number;
  asyncComplete?: boolean;
  /** Overrides the TaskDef's retryCount for this step. */
  retryCount?: number;
  rateLimited?: boolean;
  /** An inline task definition, used instead of a registered one. */
  taskDefinition?: TaskDef;
  cacheConfig?: { key: string; ttlInSecond: number };
  onStateChange?: JsonObject;
}

/** The WorkflowTask fields from StepOptions (the ref is handled by the caller). */
export function optionFields(o: StepOptions | undefined): Record<string, unknown> {
  if (!o) return {};
  return {
    description: o.description,
    optional: o.optional,
    permissive: o.permissive,
    startDelay: o.startDelay,
    asyncComplete: o.asyncComplete,
    retryCount: o.retryCount,
    rateLimited: o.rateLimited,
    taskDefinition: o.taskDefinition,
    cacheConfig: o.cacheConfig,
    onStateChange: o.onStateChange,
  };
}
