// Conductor's definition format (WorkflowDef schemaVersion 2, TaskDef), field
// for field. These types are the JSON DAG that builders compile to and the
// server runs; fields Baton does not act on are still carried unchanged.

import type { Json, JsonObject } from "@baton/json";

export type { Json, JsonObject };

export type TimeoutPolicy = "RETRY" | "TIME_OUT_WF" | "ALERT_ONLY";
export type RetryLogic = "FIXED" | "LINEAR_BACKOFF" | "EXPONENTIAL_BACKOFF";

export interface TaskDef {
  name: string;
  description?: string;
  retryCount?: number;
  timeoutSeconds?: number;
  inputKeys?: string[];
  outputKeys?: string[];
  timeoutPolicy?: TimeoutPolicy;
  retryLogic?: RetryLogic;
  retryDelaySeconds?: number;
  maxRetryDelaySeconds?: number;
  responseTimeoutSeconds?: number;
  concurrentExecLimit?: number;
  /** Baton: at most this many in progress per fairness key of their runs. */
  concurrentExecLimitPerKey?: number;
  inputTemplate?: JsonObject;
  rateLimitPerFrequency?: number;
  rateLimitFrequencyInSeconds?: number;
  isolationGroupId?: string;
  executionNameSpace?: string;
  ownerEmail?: string;
  pollTimeoutSeconds?: number;
  backoffScaleFactor?: number;
  baseType?: string;
  totalTimeoutSeconds?: number;
  inputSchema?: JsonObject;
  outputSchema?: JsonObject;
  enforceSchema?: boolean;
  ownerApp?: string;
  createTime?: number;
  updateTime?: number;
  createdBy?: string;
  updatedBy?: string;
  /** Baton's: how `baton publish` rolls a changed version out (read by publish, never registered). */
  rollout?: Rollout;
  [extra: string]: unknown;
}

/**
 * How a new version of a flow reaches traffic when `baton publish` registers
 * it: `canary` percent of starts without a version go to it, the rest to the
 * stable version, until `baton route promote` or `rollback`.
 */
export interface Rollout {
  /** Percent of starts (1-100) the new version gets. */
  canary: number;
  /** Keep each key on its version: `${workflow.input.<field>}` or `${workflow.correlationId}`. */
  sticky?: string;
  /** Roll back by itself when the canary fails more than the stable version. */
  guard?: {
    /** Percentage points by which the canary's failure rate may exceed the stable version's. */
    maxFailureRateIncrease: number;
    /** Ended canary runs needed before judging. */
    minEndedRuns: number;
    /** Runs started in this many seconds (0 or absent: since the route was set). */
    windowSeconds?: number;
  };
}

/**
 * Conductor's task types (its TaskType enum, with HUMAN, START_WORKFLOW and
 * NOOP of later versions): what a definition's `type` may name. The one list
 * of them: validation, the server's decider and the test harness read it.
 */
export const TASK_TYPES = [
  "SIMPLE",
  "DYNAMIC",
  "FORK_JOIN",
  "FORK_JOIN_DYNAMIC",
  "DECISION",
  "SWITCH",
  "JOIN",
  "EXCLUSIVE_JOIN",
  "DO_WHILE",
  "SUB_WORKFLOW",
  "START_WORKFLOW",
  "EVENT",
  "WAIT",
  "HUMAN",
  "USER_DEFINED",
  "HTTP",
  "LAMBDA",
  "INLINE",
  "TERMINATE",
  "KAFKA_PUBLISH",
  "JSON_JQ_TRANSFORM",
  "SET_VARIABLE",
  "NOOP",
] as const;
export type TaskType = (typeof TASK_TYPES)[number];

/** Types the server carries out itself: every Conductor type but SIMPLE. */
export const SYSTEM_TASK_TYPES: ReadonlySet<string> = new Set(TASK_TYPES.filter((t) => t !== "SIMPLE"));

/** Conductor types Baton does not run (Kafka; a server plugin's own types): a definition naming one is refused. */
export const UNSERVED_TASK_TYPES: ReadonlySet<TaskType> = new Set<TaskType>(["KAFKA_PUBLISH", "USER_DEFINED"]);

/** A worker's task: SIMPLE, and any type Conductor does not define (its name is the task definition's). */
export const isWorkerTaskType = (type: string): boolean => type === "SIMPLE" || !SYSTEM_TASK_TYPES.has(type);

export interface SubWorkflowParams {
  name?: string;
  version?: number | string;
  taskToDomain?: Record<string, string>;
  workflowDefinition?: WorkflowDef | string | null;
  idempotencyKey?: string;
  idempotencyStrategy?: "RETURN_EXISTING" | "FAIL";
  priority?: number | string;
  [extra: string]: unknown;
}

export interface WorkflowTask {
  name: string;
  taskReferenceName: string;
  description?: string;
  inputParameters?: JsonObject;
  /** A TaskType, or any other string for a worker task (treated as SIMPLE). */
  type?: string;
  dynamicTaskNameParam?: string;
  caseValueParam?: string;
  caseExpression?: string;
  scriptExpression?: string;
  decisionCases?: Record<string, WorkflowTask[]>;
  dynamicForkJoinTasksParam?: string;
  dynamicForkTasksParam?: string;
  dynamicForkTasksInputParamName?: string;
  defaultCase?: WorkflowTask[];
  forkTasks?: WorkflowTask[][];
  startDelay?: number;
  subWorkflowParam?: SubWorkflowParams;
  joinOn?: string[];
  sink?: string;
  optional?: boolean;
  taskDefinition?: TaskDef;
  rateLimited?: boolean;
  defaultExclusiveJoinTask?: string[];
  asyncComplete?: boolean;
  loopCondition?: string;
  loopOver?: WorkflowTask[];
  retryCount?: number;
  evaluatorType?: string;
  expression?: string;
  joinMode?: string;
  joinStatus?: string;
  permissive?: boolean;
  onStateChange?: JsonObject;
  cacheConfig?: JsonObject;
  [extra: string]: unknown;
}

export interface WorkflowDef {
  name: string;
  description?: string;
  version?: number;
  tasks: WorkflowTask[];
  inputParameters?: string[];
  outputParameters?: JsonObject;
  failureWorkflow?: string;
  failureWorkflowVersion?: number;
  schemaVersion?: number;
  restartable?: boolean;
  workflowStatusListenerEnabled?: boolean;
  workflowStatusListenerSink?: string;
  ownerEmail?: string;
  ownerApp?: string;
  timeoutPolicy?: "TIME_OUT_WF" | "ALERT_ONLY";
  timeoutSeconds?: number;
  variables?: JsonObject;
  inputTemplate?: JsonObject;
  inputSchema?: JsonObject;
  outputSchema?: JsonObject;
  enforceSchema?: boolean;
  /** Conductor's {rateLimitKey, concurrentExecLimit}: running runs per key; Baton adds `strategy` (QUEUE, CANCEL_NEWEST, CANCEL_OLDEST). */
  rateLimitConfig?: JsonObject;
  metadata?: JsonObject;
  maskedFields?: string[];
  /** Baton: `${workflow.input.<path>}` or `${workflow.correlationId}`: tasks are claimed round-robin across its values. */
  fairnessKey?: string;
  /** Baton: weight of a fairnessKey value (unlisted: 1): claims give keys tasks in proportion. */
  fairnessWeights?: Record<string, number>;
  /** Baton: ended runs are removed this many seconds after they end (at least 3600). */
  retentionSeconds?: number;
  createTime?: number;
  updateTime?: number;
  createdBy?: string;
  updatedBy?: string;
  [extra: string]: unknown;
}

/** TaskDef defaults when a field is absent (Conductor's). */
export const TASK_DEF_DEFAULTS = {
  retryCount: 3,
  retryLogic: "FIXED",
  retryDelaySeconds: 60,
  timeoutSeconds: 0,
  timeoutPolicy: "TIME_OUT_WF",
  responseTimeoutSeconds: 3600,
  backoffScaleFactor: 1,
  pollTimeoutSeconds: 0,
} as const satisfies Partial<TaskDef>;
