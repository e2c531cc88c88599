// Conductor's JSON shapes for runs and tasks, from the wire messages: what
// `baton get -o json` prints and what Conductor users already parse.
import { parseJson, TaskStatus, WorkflowStatus, type Task, type Workflow } from "@baton/protocol";

export interface ConductorTask {
  taskId: string;
  taskType: string;
  taskDefName: string;
  referenceTaskName: string;
  status: string;
  inputData: unknown;
  outputData: unknown;
  reasonForIncompletion?: string;
  retryCount: number;
  retriedTaskId?: string;
  retried: boolean;
  executed: boolean;
  pollCount: number;
  seq: number;
  iteration: number;
  workerId?: string;
  scheduledTime: number;
  startTime: number;
  endTime: number;
  updateTime: number;
  callbackAfterSeconds: number;
  subWorkflowId?: string;
  workflowInstanceId: string;
  workflowType: string;
  correlationId?: string;
}

export interface ConductorWorkflow {
  workflowId: string;
  workflowName: string;
  workflowVersion: number;
  status: string;
  correlationId?: string;
  input: Record<string, unknown>;
  output: Record<string, unknown>;
  variables: Record<string, unknown>;
  reasonForIncompletion?: string;
  failedReferenceTaskNames: string[];
  failedTaskId?: string;
  createTime: number;
  updateTime: number;
  endTime: number;
  priority: number;
  parentWorkflowId?: string;
  parentWorkflowTaskId?: string;
  idempotencyKey?: string;
  tasks: ConductorTask[];
  workflowDefinition?: unknown;
  /** Baton's: how a route chose the version of a start that named none. */
  route?: { revision: number; weight: number; reason: string; stickyKey?: string };
}

const parse = (text: string, fallback: unknown): unknown => (text ? parseJson(text) : fallback);
const optional = <K extends string>(key: K, value: string): { [P in K]?: string } => (value ? ({ [key]: value } as { [P in K]: string }) : {});

export function taskStatusName(status: TaskStatus): string {
  return TaskStatus[status] ?? "UNSPECIFIED";
}

export function workflowStatusName(status: WorkflowStatus): string {
  return WorkflowStatus[status] ?? "UNSPECIFIED";
}

export function toConductorTask(task: Task): ConductorTask {
  return {
    taskId: task.taskId,
    taskType: task.taskType,
    taskDefName: task.taskDefName,
    referenceTaskName: task.referenceTaskName,
    status: taskStatusName(task.status),
    inputData: parse(task.inputJson, {}),
    outputData: parse(task.outputJson, {}),
    ...optional("reasonForIncompletion", task.reasonForIncompletion),
    retryCount: task.retryCount,
    ...optional("retriedTaskId", task.retriedTaskId),
    retried: task.retried,
    executed: task.executed,
    pollCount: task.pollCount,
    seq: task.seq,
    iteration: task.iteration,
    ...optional("workerId", task.workerId),
    scheduledTime: Number(task.scheduledTimeMs),
    startTime: Number(task.startTimeMs),
    endTime: Number(task.endTimeMs),
    updateTime: Number(task.updateTimeMs),
    callbackAfterSeconds: Number(task.callbackAfterSeconds),
    ...optional("subWorkflowId", task.subWorkflowId),
    workflowInstanceId: task.workflowId,
    workflowType: task.workflowName,
    ...optional("correlationId", task.correlationId),
  };
}

export function toConductorWorkflow(workflow: Workflow): ConductorWorkflow {
  return {
    workflowId: workflow.workflowId,
    workflowName: workflow.workflowName,
    workflowVersion: workflow.workflowVersion,
    status: workflowStatusName(workflow.status),
    ...optional("correlationId", workflow.correlationId),
    input: parse(workflow.inputJson, {}) as Record<string, unknown>,
    output: parse(workflow.outputJson, {}) as Record<string, unknown>,
    variables: parse(workflow.variablesJson, {}) as Record<string, unknown>,
    ...optional("reasonForIncompletion", workflow.reasonForIncompletion),
    failedReferenceTaskNames: workflow.failedReferenceTaskNames,
    ...optional("failedTaskId", workflow.failedTaskId),
    createTime: Number(workflow.createTimeMs),
    updateTime: Number(workflow.updateTimeMs),
    endTime: Number(workflow.endTimeMs),
    priority: workflow.priority,
    ...optional("parentWorkflowId", workflow.parentWorkflowId),
    ...optional("parentWorkflowTaskId", workflow.parentWorkflowTaskId),
    ...optional("idempotencyKey", workflow.idempotencyKey),
    tasks: workflow.tasks.map(toConductorTask),
    ...(workflow.workflowDefinitionJson ? { workflowDefinition: parseJson(workflow.workflowDefinitionJson) } : {}),
    ...(workflow.route
      ? {
          route: {
            revision: Number(workflow.route.routeRevision),
            weight: workflow.route.weight,
            reason: workflow.route.reason,
            ...optional("stickyKey", workflow.route.stickyKey),
          },
        }
      : {}),
  };
}
