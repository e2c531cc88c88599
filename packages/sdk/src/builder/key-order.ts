// Canonical key order of compiled JSON, so the same flow always gives the same
// bytes. The order follows Conductor's Java models (and its fixtures).

export const WORKFLOW_DEF_KEYS = [
  "name",
  "description",
  "version",
  "tasks",
  "inputParameters",
  "outputParameters",
  "failureWorkflow",
  "failureWorkflowVersion",
  "schemaVersion",
  "restartable",
  "workflowStatusListenerEnabled",
  "workflowStatusListenerSink",
  "ownerEmail",
  "ownerApp",
  "timeoutPolicy",
  "timeoutSeconds",
  "variables",
  "inputTemplate",
  "inputSchema",
  "outputSchema",
  "enforceSchema",
  "rateLimitConfig",
  "metadata",
  "maskedFields",
  "fairnessKey",
  "fairnessWeights",
  "retentionSeconds",
] as const;

export const WORKFLOW_TASK_KEYS = [
  "name",
  "taskReferenceName",
  "description",
  "inputParameters",
  "type",
  "dynamicTaskNameParam",
  "caseValueParam",
  "caseExpression",
  "scriptExpression",
  "decisionCases",
  "dynamicForkJoinTasksParam",
  "dynamicForkTasksParam",
  "dynamicForkTasksInputParamName",
  "defaultCase",
  "forkTasks",
  "startDelay",
  "subWorkflowParam",
  "joinOn",
  "sink",
  "optional",
  "taskDefinition",
  "rateLimited",
  "defaultExclusiveJoinTask",
  "asyncComplete",
  "loopCondition",
  "loopOver",
  "retryCount",
  "evaluatorType",
  "expression",
  "joinMode",
  "permissive",
  "onStateChange",
  "cacheConfig",
  "items",
] as const;

export const TASK_DEF_KEYS = [
  "name",
  "description",
  "retryCount",
  "timeoutSeconds",
  "inputKeys",
  "outputKeys",
  "timeoutPolicy",
  "retryLogic",
  "retryDelaySeconds",
  "maxRetryDelaySeconds",
  "responseTimeoutSeconds",
  "concurrentExecLimit",
  "concurrentExecLimitPerKey",
  "inputTemplate",
  "rateLimitPerFrequency",
  "rateLimitFrequencyInSeconds",
  "isolationGroupId",
  "executionNameSpace",
  "ownerEmail",
  "pollTimeoutSeconds",
  "backoffScaleFactor",
  "baseType",
  "totalTimeoutSeconds",
  "inputSchema",
  "outputSchema",
  "enforceSchema",
  "ownerApp",
] as const;

/** A copy of obj with the known keys first in `order`, the rest sorted, undefined dropped. */
export function ordered<T extends object>(obj: T, order: readonly string[]): T {
  const entries = Object.entries(obj).filter(([, v]) => v !== undefined);
  const rank = (k: string) => {
    const i = order.indexOf(k);
    return i < 0 ? order.length : i;
  };
  entries.sort(([a], [b]) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0));
  return Object.fromEntries(entries) as T;
}
