// Conductor's EventHandler: listens to an event name and, for each event whose
// payload passes `condition`, runs its actions with `${...}` taken from the
// payload. The JSON is Conductor's, field for field; validation collects every
// problem with its JSON pointer and never throws.
import { quoted } from "@baton/json";
import type { ValidationIssue, ValidationResult } from "./validation/issue.js";
import { pointer } from "./validation/pointer.js";
import { isObj, nestingDepth } from "./validation/tree.js";
import { MAX_DEFINITION_DEPTH } from "./validate.js";
import { charsOverNameLimit, MAX_NAME_CHARS } from "./names.js";

export const EVENT_HANDLER_ACTIONS = ["complete_task", "fail_task", "start_workflow", "terminate_workflow", "update_workflow_variables"] as const;
export type EventHandlerActionKind = (typeof EVENT_HANDLER_ACTIONS)[number];
/** The most actions one handler may hold (with the server's bound on handlers per event, one event is bounded work). */
export const EVENT_HANDLER_MAX_ACTIONS = 20;

/** `javascript` (and Conductor's `graaljs`, the same here): `condition` is a script with the payload as `$`; `value-param`: a path into the payload. */
export const EVENT_HANDLER_EVALUATORS = ["javascript", "graaljs", "value-param"] as const;

export interface TaskDetails {
  workflowId?: string;
  taskRefName?: string;
  taskId?: string;
  output?: Record<string, unknown>;
}

export interface StartWorkflowDetails {
  name: string;
  version?: number | string;
  correlationId?: string;
  input?: Record<string, unknown>;
  taskToDomain?: Record<string, string>;
}

export interface TerminateWorkflowDetails {
  workflowId: string;
  terminationReason?: string;
}

export interface UpdateWorkflowVariablesDetails {
  workflowId: string;
  variables?: Record<string, unknown>;
  appendArray?: boolean;
}

export interface EventHandlerAction {
  action: EventHandlerActionKind;
  start_workflow?: StartWorkflowDetails;
  complete_task?: TaskDetails;
  fail_task?: TaskDetails;
  terminate_workflow?: TerminateWorkflowDetails;
  update_workflow_variables?: UpdateWorkflowVariablesDetails;
  /** Parse string values of the payload that hold JSON objects or arrays before substituting. */
  expandInlineJSON?: boolean;
}

export interface EventHandler {
  name: string;
  /** The event listened to, e.g. "sqs:orders-COMPLETED" or "conductor:my_flow:notify_ref". */
  event: string;
  /** Empty or absent: every event passes. */
  condition?: string;
  evaluatorType?: (typeof EVENT_HANDLER_EVALUATORS)[number];
  actions: EventHandlerAction[];
  /** Absent means false, as in Conductor: the handler is stored but does nothing. */
  active?: boolean;
  description?: string;
}

const TOP_LEVEL = new Set([
  "name",
  "event",
  "condition",
  "evaluatorType",
  "actions",
  "active",
  "description",
  "tags",
  "createdBy",
  "updatedBy",
  "createTime",
  "updateTime",
  "ownerApp",
]);

/** Whether a parsed JSON document looks like an event handler rather than a workflow definition. */
export function isEventHandlerJson(value: unknown): boolean {
  return isObj(value) && "event" in value && "actions" in value && !("tasks" in value);
}

export function validateEventHandler(handler: unknown): ValidationResult {
  const errors: ValidationIssue[] = [];
  const warnings: ValidationIssue[] = [];
  const error = (path: string, message: string) => errors.push({ path, message });
  if (!isObj(handler)) {
    error("", "an event handler must be a JSON object");
    return { errors, warnings };
  }
  if (nestingDepth(handler, MAX_DEFINITION_DEPTH) > MAX_DEFINITION_DEPTH) {
    error("", `the event handler nests deeper than ${MAX_DEFINITION_DEPTH} levels`);
    return { errors, warnings };
  }
  requiredName(handler, "name", error);
  requiredName(handler, "event", error);
  optionalType(handler, "", "condition", "string", error);
  optionalType(handler, "", "description", "string", error);
  const evaluator = handler["evaluatorType"];
  if (evaluator !== undefined && evaluator !== null) {
    if (typeof evaluator !== "string" || !(EVENT_HANDLER_EVALUATORS as readonly string[]).includes(evaluator)) {
      error("/evaluatorType", `evaluatorType must be one of ${EVENT_HANDLER_EVALUATORS.join(", ")}`);
    } else if (evaluator === "value-param" && !(typeof handler["condition"] === "string" && handler["condition"].trim() !== "")) {
      error("/condition", "a value-param condition names the payload field to test; it must not be empty");
    }
  }
  const active = handler["active"];
  if (active === undefined)
    warnings.push({ path: "/active", message: "active is absent: the handler is stored inactive (Conductor's default) and runs no action" });
  else if (typeof active !== "boolean") error("/active", "active must be a boolean");
  for (const key of Object.keys(handler)) {
    if (!TOP_LEVEL.has(key)) warnings.push({ path: pointer("", key), message: `unknown field ${quoted(key)} is kept but ignored` });
  }

  const actions = handler["actions"];
  if (actions === undefined) error("/actions", "actions is required");
  else if (!Array.isArray(actions)) error("/actions", "actions must be a list");
  else if (actions.length === 0) error("/actions", "actions must hold at least one action");
  else if (actions.length > EVENT_HANDLER_MAX_ACTIONS)
    error(
      "/actions",
      `actions holds ${actions.length} actions; a handler holds at most ${EVENT_HANDLER_MAX_ACTIONS}: split them over several handlers of the event`,
    );
  else actions.forEach((action, i) => actionIssues(action, pointer("/actions", i), error, warnings));
  return { errors, warnings };
}

type Report = (path: string, message: string) => void;

function actionIssues(action: unknown, path: string, error: Report, _warnings: ValidationIssue[]): void {
  if (!isObj(action)) {
    error(path, "an action must be a JSON object");
    return;
  }
  optionalType(action, path, "expandInlineJSON", "boolean", error);
  const kind = action["action"];
  if (kind === undefined) {
    error(pointer(path, "action"), `action is required (one of ${EVENT_HANDLER_ACTIONS.join(", ")})`);
    return;
  }
  if (typeof kind !== "string" || !(EVENT_HANDLER_ACTIONS as readonly string[]).includes(kind)) {
    error(pointer(path, "action"), `unknown action ${quoted(kind)}; expected one of ${EVENT_HANDLER_ACTIONS.join(", ")}`);
    return;
  }
  const detailsPath = pointer(path, kind);
  const details = action[kind];
  if (details === undefined || details === null) {
    error(detailsPath, `a ${kind} action needs its ${kind} object`);
    return;
  }
  if (!isObj(details)) {
    error(detailsPath, `${kind} must be a JSON object`);
    return;
  }
  switch (kind as EventHandlerActionKind) {
    case "complete_task":
    case "fail_task": {
      for (const key of ["workflowId", "taskRefName", "taskId"]) optionalType(details, detailsPath, key, "string", error);
      optionalType(details, detailsPath, "output", "object", error);
      const hasTaskId = nonEmpty(details["taskId"]);
      if (!hasTaskId && !(nonEmpty(details["workflowId"]) && nonEmpty(details["taskRefName"]))) {
        error(detailsPath, `${kind} names its task by taskId, or by workflowId and taskRefName`);
      }
      break;
    }
    case "start_workflow": {
      requiredString(details, detailsPath, "name", error);
      const version = details["version"];
      if (version !== undefined && version !== null && !(typeof version === "string" || (typeof version === "number" && Number.isInteger(version)))) {
        error(pointer(detailsPath, "version"), "version must be an integer (or a ${...} expression)");
      }
      optionalType(details, detailsPath, "correlationId", "string", error);
      optionalType(details, detailsPath, "input", "object", error);
      optionalType(details, detailsPath, "taskToDomain", "object", error);
      break;
    }
    case "terminate_workflow":
      requiredString(details, detailsPath, "workflowId", error);
      optionalType(details, detailsPath, "terminationReason", "string", error);
      break;
    case "update_workflow_variables":
      requiredString(details, detailsPath, "workflowId", error);
      optionalType(details, detailsPath, "variables", "object", error);
      optionalType(details, detailsPath, "appendArray", "boolean", error);
      break;
  }
}

function nonEmpty(value: unknown): boolean {
  return typeof value === "string" && value.trim() !== "";
}

function requiredString(obj: Record<string, unknown>, base: string, key: string, error: Report): void {
  const value = obj[key];
  if (value === undefined || value === null) error(pointer(base, key), `${key} is required`);
  else if (typeof value !== "string") error(pointer(base, key), `${key} must be a string`);
  else if (value.trim() === "") error(pointer(base, key), `${key} must not be empty`);
}

/** A name the server indexes (the handler's name, its event). */
function requiredName(obj: Record<string, unknown>, key: string, error: Report): void {
  requiredString(obj, "", key, error);
  const value = obj[key];
  const over = typeof value === "string" ? charsOverNameLimit(value) : 0;
  if (over > 0) error(pointer("", key), `${key} is ${MAX_NAME_CHARS + over} characters long; at most ${MAX_NAME_CHARS}`);
}

function optionalType(obj: Record<string, unknown>, base: string, key: string, type: "string" | "boolean" | "object", error: Report): void {
  const value = obj[key];
  if (value === undefined || value === null) return;
  const ok = type === "object" ? isObj(value) : typeof value === type;
  if (!ok) error(pointer(base, key), `${key} must be ${type === "object" ? "a JSON object" : `a ${type}`}`);
}
