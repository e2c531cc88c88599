// Engine state -> wire messages, and wire enums <-> Conductor status names.
import { create } from "@bufbuild/protobuf";
import {
  TaskSchema,
  TaskStatus,
  WorkflowSchema,
  WorkflowStatus,
  LeasedTaskSchema,
  mapInSlices,
  stringifyJson,
  type LeasedTask,
  type Task,
  type Workflow,
} from "@baton/protocol";
import type { WorkflowDef } from "@baton/sdk";
import type { RunState, TaskState } from "../decider/model.js";
import type { ClaimedTask } from "../store/store.js";

export function taskStatusName(status: TaskStatus): TaskState["status"] | undefined {
  const name = TaskStatus[status];
  return name && name !== "UNSPECIFIED" ? (name as TaskState["status"]) : undefined;
}

export function workflowStatusName(status: WorkflowStatus): RunState["status"] | undefined {
  const name = WorkflowStatus[status];
  return name && name !== "UNSPECIFIED" ? (name as RunState["status"]) : undefined;
}

/**
 * The task type a run reports, as Conductor's does: a worker task's name, and
 * `FORK` for static and dynamic forks (their definitions say FORK_JOIN / FORK_JOIN_DYNAMIC).
 */
export function reportedType(task: Pick<TaskState, "type" | "defName">): string {
  if (task.type === "SIMPLE") return task.defName;
  if (task.type === "FORK_JOIN" || task.type === "FORK_JOIN_DYNAMIC") return "FORK";
  return task.type;
}

/** How a run's tasks are sent: `payloadLimit` > 0 leaves out inputs and outputs longer than that many bytes. */
export interface TaskShape {
  payloadLimit?: number;
}

/** Payloads already as JSON text (store.runToView), sent as they are. */
type Texts = { json?: Record<string, string> };

export function toTask(task: TaskState & Texts, run: RunState, shape: TaskShape = {}): Task {
  let inputJson = task.json?.["input"] ?? stringifyJson(task.input);
  let outputJson = task.json?.["output"] ?? stringifyJson(task.output);
  let payloadTrimmed = false;
  const limit = shape.payloadLimit ?? 0;
  if (limit > 0 && (inputJson.length > limit || outputJson.length > limit)) {
    // Both go together, so the console fetches the task once for its panel.
    inputJson = "";
    outputJson = "";
    payloadTrimmed = true;
  }
  return create(TaskSchema, {
    taskId: task.id,
    workflowId: task.runId,
    taskType: reportedType(task),
    taskDefName: task.defName,
    referenceTaskName: task.ref,
    status: TaskStatus[task.status],
    inputJson,
    outputJson,
    payloadTrimmed,
    reasonForIncompletion: task.reason,
    retryCount: task.retryCount,
    retriedTaskId: task.retriedTaskId,
    pollCount: task.pollCount,
    seq: task.seq,
    iteration: task.iteration,
    workerId: task.workerId,
    scheduledTimeMs: BigInt(task.scheduledAt),
    startTimeMs: BigInt(task.startedAt),
    endTimeMs: BigInt(task.endedAt),
    updateTimeMs: BigInt(task.updatedAt),
    callbackAfterSeconds: BigInt(task.callbackAfterSeconds),
    subWorkflowId: task.subWorkflowId,
    leaseExpiresMs: BigInt(task.status === "IN_PROGRESS" ? task.leaseExpiresAt : 0),
    workflowName: run.name,
    workflowPriority: run.priority,
    correlationId: run.correlationId,
    optional: false,
    retried: task.retried,
    executed: task.handled,
  });
}

/** A run without its tasks (`def`: the definition it is pinned to, when the reply carries it). */
export function toWorkflow(run: RunState & Texts, def?: WorkflowDef): Workflow {
  return create(WorkflowSchema, {
    workflowId: run.id,
    workflowName: run.name,
    workflowVersion: run.version,
    status: WorkflowStatus[run.status],
    correlationId: run.correlationId,
    inputJson: run.json?.["input"] ?? stringifyJson(run.input),
    outputJson: run.json?.["output"] ?? stringifyJson(run.output),
    variablesJson: run.json?.["variables"] ?? stringifyJson(run.variables),
    reasonForIncompletion: run.reason,
    failedReferenceTaskNames: run.failedRefs,
    createTimeMs: BigInt(run.createdAt),
    updateTimeMs: BigInt(run.updatedAt),
    endTimeMs: BigInt(run.endedAt),
    priority: run.priority,
    parentWorkflowId: run.parentRunId,
    parentWorkflowTaskId: run.parentTaskId,
    idempotencyKey: run.idempotencyKey,
    workflowDefinitionJson: def ? stringifyJson(def) : "",
    failedTaskId: run.failedTaskId,
    ...(run.route
      ? { route: { routeRevision: BigInt(run.route.revision), weight: run.route.weight, reason: run.route.reason, stickyKey: run.route.stickyKey ?? "" } }
      : {}),
  });
}

/** A run with its tasks, their messages made in slices that yield to the event loop (a run of thousands of tasks would hold it). */
export async function toWorkflowWithTasks(run: RunState & Texts, tasks: (TaskState & Texts)[], def?: WorkflowDef, shape: TaskShape = {}): Promise<Workflow> {
  const workflow = toWorkflow(run, def);
  workflow.tasks = await mapInSlices(tasks, (t) => toTask(t, run, shape));
  return workflow;
}

export function toLeasedTask(task: ClaimedTask): LeasedTask {
  return create(LeasedTaskSchema, {
    taskId: task.id,
    workflowId: task.runId,
    taskType: task.defName,
    referenceTaskName: task.ref,
    inputJson: stringifyJson(task.input),
    leaseToken: task.leaseToken,
    leaseExpiresMs: BigInt(task.leaseExpiresAt),
    retryCount: task.retryCount,
    pollCount: task.pollCount,
    responseTimeoutSeconds: BigInt(task.responseTimeoutSeconds),
    workflowName: task.run.name,
    workflowVersion: task.run.version,
    correlationId: task.run.correlationId,
    workflowPriority: task.run.priority,
    seq: task.seq,
    scheduledTimeMs: BigInt(task.scheduledAt),
    startTimeMs: BigInt(task.startedAt),
    iteration: task.iteration,
    callbackAfterSeconds: BigInt(task.callbackAfterSeconds),
  });
}
