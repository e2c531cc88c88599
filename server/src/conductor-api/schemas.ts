// JSON schemas of the bodies Conductor's endpoints take: what is checked at
// the door, so a malformed body is refused with the field named and changes
// nothing. Definitions themselves are validated by the metadata service.
const str = { type: "string" } as const;
const json = { type: "object" } as const;

export const TASK_RESULT = {
  type: "object",
  required: ["taskId", "status"],
  properties: {
    workflowInstanceId: str,
    taskId: { type: "string", minLength: 1 },
    reasonForIncompletion: { type: ["string", "null"] },
    callbackAfterSeconds: { type: ["integer", "null"], minimum: 0 },
    workerId: { type: ["string", "null"] },
    status: { enum: ["IN_PROGRESS", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "COMPLETED"] },
    outputData: { type: ["object", "null"] },
    logs: {
      type: ["array", "null"],
      items: {
        type: "object",
        properties: { log: { type: ["string", "null"] }, taskId: { type: ["string", "null"] }, createdTime: { type: ["integer", "null"] } },
      },
    },
    extendLease: { type: ["boolean", "null"] },
    subWorkflowId: { type: ["string", "null"] },
  },
} as const;

export const START_WORKFLOW_REQUEST = {
  type: "object",
  required: ["name"],
  properties: {
    name: { type: "string", minLength: 1 },
    version: { type: ["integer", "null"], minimum: 1 },
    correlationId: { type: ["string", "null"] },
    input: { type: ["object", "null"] },
    taskToDomain: { type: ["object", "null"] },
    workflowDef: { type: ["object", "null"] },
    priority: { type: ["integer", "null"], minimum: 0, maximum: 99 },
    idempotencyKey: { type: ["string", "null"] },
    idempotencyStrategy: { type: ["string", "null"] },
    externalInputPayloadStoragePath: { type: ["string", "null"] },
  },
} as const;

export const INPUT = { type: ["object", "null"] } as const;

export const RERUN_REQUEST = {
  type: "object",
  properties: {
    reRunFromWorkflowId: { type: ["string", "null"] },
    workflowInput: { type: ["object", "null"] },
    reRunFromTaskId: { type: ["string", "null"] },
    taskInput: { type: ["object", "null"] },
    correlationId: { type: ["string", "null"] },
  },
} as const;

export const SKIP_REQUEST = {
  type: ["object", "null"],
  properties: { taskInput: { type: ["object", "null"] }, taskOutput: { type: ["object", "null"] } },
} as const;

export const WORKFLOW_DEF = { type: "object", required: ["name"], properties: { name: { type: "string", minLength: 1 } } } as const;
export const WORKFLOW_DEFS = { type: "array", items: WORKFLOW_DEF } as const;
export const TASK_DEF = { type: "object", required: ["name"], properties: { name: { type: "string", minLength: 1 } } } as const;
export const TASK_DEFS = { type: "array", items: TASK_DEF } as const;
export const EVENT_HANDLER = { type: "object", required: ["name", "event"], properties: { name: str, event: str, actions: { type: "array" } } } as const;
export const IDS = { type: "array", items: str } as const;
export const TOKEN_REQUEST = { type: "object", required: ["keyId", "keySecret"], properties: { keyId: str, keySecret: str } } as const;
export { json };
