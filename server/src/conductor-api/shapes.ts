// Baton's wire messages -> Conductor's JSON shapes (Task, Workflow,
// WorkflowSummary, TaskExecLog), field for field as Conductor's SDKs read them.
import {
  mapInSlices,
  parseJson,
  Slices,
  stringifyJson,
  TaskStatus,
  WorkflowStatus,
  type LeasedTask,
  type Task,
  type TaskLog,
  type Workflow,
} from "@baton/protocol";

/** A Conductor JSON object as the REST API answers it: built here and only serialized, so loosely typed. */
type ConductorShape = Record<string, unknown>;

const parse = (text: string): unknown => (text ? parseJson(text) : {});
/** Conductor leaves unset strings out of its JSON (Jackson NON_NULL): so do we. */
const optional = (key: string, value: string): ConductorShape => (value ? { [key]: value } : {});
const ms = (value: bigint): number => Number(value);

/** What a task handed out and a task as stored say alike (in Conductor's order of fields). */
function taskFacts(task: LeasedTask | Task): ConductorShape {
  return {
    inputData: parse(task.inputJson),
    referenceTaskName: task.referenceTaskName,
    retryCount: task.retryCount,
    seq: task.seq,
    ...optional("correlationId", task.correlationId),
    pollCount: task.pollCount,
  };
}

/** A task as handed to a worker by a poll (status IN_PROGRESS), with its run's facts as Conductor's SDKs read them. */
export function leasedToTask(task: LeasedTask, workerId: string): ConductorShape {
  const startTime = ms(task.startTimeMs);
  return {
    taskType: task.taskType,
    status: "IN_PROGRESS",
    ...taskFacts(task),
    taskDefName: task.taskType,
    scheduledTime: ms(task.scheduledTimeMs),
    startTime,
    endTime: 0,
    updateTime: startTime,
    startDelayInSeconds: 0,
    retried: false,
    executed: false,
    callbackFromWorker: true,
    responseTimeoutSeconds: ms(task.responseTimeoutSeconds),
    workflowInstanceId: task.workflowId,
    ...optional("workflowType", task.workflowName),
    taskId: task.taskId,
    callbackAfterSeconds: ms(task.callbackAfterSeconds),
    ...optional("workerId", workerId),
    outputData: {},
    workflowPriority: task.workflowPriority,
    iteration: task.iteration,
  };
}

export function toTask(task: Task): ConductorShape {
  return {
    taskType: task.taskType,
    status: TaskStatus[task.status] ?? "SCHEDULED",
    ...taskFacts(task),
    taskDefName: task.taskDefName,
    scheduledTime: ms(task.scheduledTimeMs),
    startTime: ms(task.startTimeMs),
    endTime: ms(task.endTimeMs),
    updateTime: ms(task.updateTimeMs),
    startDelayInSeconds: 0,
    ...optional("retriedTaskId", task.retriedTaskId),
    retried: task.retried,
    executed: task.executed,
    callbackFromWorker: true,
    responseTimeoutSeconds: 0,
    workflowInstanceId: task.workflowId,
    workflowType: task.workflowName,
    taskId: task.taskId,
    ...optional("reasonForIncompletion", task.reasonForIncompletion),
    callbackAfterSeconds: ms(task.callbackAfterSeconds),
    ...optional("workerId", task.workerId),
    outputData: parse(task.outputJson),
    workflowPriority: task.workflowPriority,
    iteration: task.iteration,
    ...optional("subWorkflowId", task.subWorkflowId),
  };
}

export function toWorkflow(workflow: Workflow): ConductorShape {
  const createTime = ms(workflow.createTimeMs);
  return {
    createTime,
    updateTime: ms(workflow.updateTimeMs),
    status: WorkflowStatus[workflow.status] ?? "RUNNING",
    endTime: ms(workflow.endTimeMs),
    workflowId: workflow.workflowId,
    ...optional("parentWorkflowId", workflow.parentWorkflowId),
    ...optional("parentWorkflowTaskId", workflow.parentWorkflowTaskId),
    tasks: workflow.tasks.map(toTask),
    input: parse(workflow.inputJson),
    output: parse(workflow.outputJson),
    ...optional("correlationId", workflow.correlationId),
    ...optional("reasonForIncompletion", workflow.reasonForIncompletion),
    taskToDomain: {},
    failedReferenceTaskNames: workflow.failedReferenceTaskNames,
    failedTaskNames: workflow.failedReferenceTaskNames,
    ...(workflow.workflowDefinitionJson ? { workflowDefinition: parseJson(workflow.workflowDefinitionJson) } : {}),
    priority: workflow.priority,
    variables: parse(workflow.variablesJson),
    lastRetriedTime: 0,
    ...optional("failedTaskId", workflow.failedTaskId),
    ...optional("idempotencyKey", workflow.idempotencyKey),
    startTime: createTime,
    workflowName: workflow.workflowName,
    workflowVersion: workflow.workflowVersion,
  };
}

/**
 * stringifyJson({ ...toWorkflow(workflow), ...extra }) in pieces to be sent
 * one after another, its tasks converted and written in slices that yield to
 * the event loop (a run of thousands of tasks would hold it): the same text.
 */
export async function workflowJson(workflow: Workflow, extra: ConductorShape = {}, slices = new Slices()): Promise<string[]> {
  const head = stringifyJson({ ...toWorkflow({ ...workflow, tasks: [] }), ...extra });
  const slot = head.indexOf(TASKS_SLOT); // the first: nothing before the tasks is an object or holds an unescaped quote
  const tasks = await mapInSlices(workflow.tasks, (t) => stringifyJson(toTask(t)), slices);
  const pieces = [`${head.slice(0, slot)}"tasks":[`];
  for (let i = 0; i < tasks.length; i += TASKS_PER_PIECE) pieces.push((i > 0 ? "," : "") + tasks.slice(i, i + TASKS_PER_PIECE).join(","));
  pieces.push(`]${head.slice(slot + TASKS_SLOT.length)}`);
  return pieces;
}

/** workflowJson's bytes of each run given to several callers at once (GetWorkflow's shared replies): made once for them. */
const runBytes = new WeakMap<Workflow, Promise<Buffer[]>>();

/** workflowJson(workflow) as bytes, made in slices once for every caller given this same `workflow`; it must not change. */
export function workflowBytes(workflow: Workflow): Promise<Buffer[]> {
  let bytes = runBytes.get(workflow);
  if (!bytes) {
    const slices = new Slices();
    bytes = workflowJson(workflow, {}, slices).then((pieces) => mapInSlices(pieces, (piece) => Buffer.from(piece), slices));
    runBytes.set(workflow, bytes);
  }
  return bytes;
}

/** stringifyJson(items.map(...)) in pieces: each item's text as `write` makes it, on one clock of slices. */
export async function listJson<T>(items: T[], write: (item: T, slices: Slices) => string[] | Promise<string[]>, slices = new Slices()): Promise<string[]> {
  const pieces = ["["];
  for (const [i, item] of items.entries()) {
    if (slices.due()) await slices.yield();
    if (i > 0) pieces.push(",");
    pieces.push(...(await write(item, slices)));
  }
  pieces.push("]");
  return pieces;
}

/** stringifyJson(workflows.map(toWorkflow)) in pieces, each run as workflowJson writes it. */
export const workflowListJson = (workflows: Workflow[]): Promise<string[]> => listJson(workflows, (workflow, slices) => workflowJson(workflow, {}, slices));

const TASKS_SLOT = '"tasks":[]';
const TASKS_PER_PIECE = 100;

const isoTime = (value: bigint): string => (value > 0n ? new Date(Number(value)).toISOString() : "");

/** The summary Conductor's /workflow/search answers with: times as ISO strings, input and output as JSON text. */
export function toWorkflowSummary(workflow: Workflow): ConductorShape {
  const start = ms(workflow.createTimeMs);
  const end = ms(workflow.endTimeMs);
  return {
    workflowType: workflow.workflowName,
    version: workflow.workflowVersion,
    workflowId: workflow.workflowId,
    ...optional("correlationId", workflow.correlationId),
    startTime: isoTime(workflow.createTimeMs),
    updateTime: isoTime(workflow.updateTimeMs),
    endTime: isoTime(workflow.endTimeMs),
    status: WorkflowStatus[workflow.status] ?? "RUNNING",
    input: workflow.inputJson || "{}",
    output: workflow.outputJson || "{}",
    ...optional("reasonForIncompletion", workflow.reasonForIncompletion),
    executionTime: end > 0 ? end - start : 0,
    event: "",
    failedReferenceTaskNames: workflow.failedReferenceTaskNames.join(","),
    priority: workflow.priority,
    failedTaskNames: workflow.failedReferenceTaskNames,
    ...optional("idempotencyKey", workflow.idempotencyKey),
  };
}

export function toTaskLog(taskId: string, log: TaskLog): ConductorShape {
  return { log: log.message, taskId, createdTime: ms(log.createdTimeMs) };
}
