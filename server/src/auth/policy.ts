// Who may call what: one table, keyed by full method name
// ("baton.v1.TaskService/Poll"). A method missing from the table is refused
// to everyone but admin, so a new RPC is closed until someone decides.
import type { KeyRecord, Role } from "./keys.js";

/** The principal a request runs as. */
export interface Principal {
  /** Key id, or "anonymous" when authentication is disabled. */
  id: string;
  name: string;
  role: Role;
  /** Worker scope; ["*"] (or any role but worker) means every task type. */
  taskTypes: string[];
}

export const ANONYMOUS: Principal = { id: "anonymous", name: "", role: "admin", taskTypes: ["*"] };

export function principalOf(key: KeyRecord): Principal {
  return { id: key.id, name: key.name, role: key.role, taskTypes: key.taskTypes };
}

/**
 * How a worker method names the task types it touches:
 * - "request": the request names them (Poll's task_type, Dispatch's subscribe),
 * - "task": it names a task id, whose type is looked up.
 */
export type Scope = "request" | "task";

interface Rule {
  roles: readonly Role[];
  /** Set for methods a worker key may call only for its task types. */
  scope?: Scope;
}

const READ: readonly Role[] = ["reader", "operator", "publisher", "admin"];
const RUNS_READ: readonly Role[] = ["reader", "operator", "admin"];
const PUBLISH: readonly Role[] = ["publisher", "admin"];
const OPERATE: readonly Role[] = ["operator", "admin"];
const WORK: readonly Role[] = ["worker", "admin"];
// Routes decide which definition runs: publishers roll versions out, operators roll them back in an incident.
const ROUTE: readonly Role[] = ["publisher", "operator", "admin"];

export const RULES: Readonly<Record<string, Rule>> = {
  // Definitions: publishers write, everyone who reads may read.
  "baton.v1.MetadataService/RegisterWorkflowDef": { roles: PUBLISH },
  "baton.v1.MetadataService/ValidateWorkflowDef": { roles: PUBLISH },
  "baton.v1.MetadataService/RegisterTaskDefs": { roles: PUBLISH },
  "baton.v1.MetadataService/GetWorkflowDef": { roles: READ },
  "baton.v1.MetadataService/ListWorkflowDefs": { roles: READ },
  "baton.v1.MetadataService/GetTaskDef": { roles: READ },
  "baton.v1.MetadataService/ListTaskDefs": { roles: READ },
  "baton.v1.MetadataService/DeleteWorkflowDef": { roles: PUBLISH },
  "baton.v1.MetadataService/DeleteTaskDef": { roles: PUBLISH },

  // Event handlers are definitions; putting an event on the bus acts on runs.
  "baton.v1.EventService/RegisterEventHandler": { roles: PUBLISH },
  "baton.v1.EventService/DeleteEventHandler": { roles: PUBLISH },
  "baton.v1.EventService/GetEventHandler": { roles: READ },
  "baton.v1.EventService/ListEventHandlers": { roles: READ },
  "baton.v1.EventService/PublishEvent": { roles: OPERATE },

  // Runs: operators start and operate, readers look.
  "baton.v1.WorkflowService/StartWorkflow": { roles: OPERATE },
  "baton.v1.WorkflowService/ExecuteWorkflow": { roles: OPERATE },
  "baton.v1.WorkflowService/PauseWorkflow": { roles: OPERATE },
  "baton.v1.WorkflowService/ResumeWorkflow": { roles: OPERATE },
  "baton.v1.WorkflowService/TerminateWorkflow": { roles: OPERATE },
  "baton.v1.WorkflowService/RetryWorkflow": { roles: OPERATE },
  "baton.v1.WorkflowService/RestartWorkflow": { roles: OPERATE },
  "baton.v1.WorkflowService/RerunWorkflow": { roles: OPERATE },
  "baton.v1.WorkflowService/SkipTask": { roles: OPERATE },
  "baton.v1.WorkflowService/SignalTask": { roles: OPERATE },
  "baton.v1.WorkflowService/GetWorkflow": { roles: RUNS_READ },
  "baton.v1.WorkflowService/SearchWorkflows": { roles: RUNS_READ },
  "baton.v1.WorkflowService/WaitWorkflow": { roles: RUNS_READ },
  "baton.v1.WorkflowService/CountWorkflows": { roles: RUNS_READ },
  "baton.v1.WorkflowService/WatchWorkflow": { roles: RUNS_READ },
  "baton.v1.WorkflowService/WatchWorkflows": { roles: RUNS_READ },
  "baton.v1.WorkflowService/GetTask": { roles: RUNS_READ },

  // Routes: who ships a version and who answers for runs may change them; everyone who reads may look.
  "baton.v1.RouteService/GetRoute": { roles: READ },
  "baton.v1.RouteService/ListRouteHistory": { roles: READ },
  "baton.v1.RouteService/GetRouteStatus": { roles: READ },
  "baton.v1.RouteService/SetRoute": { roles: ROUTE },
  "baton.v1.RouteService/PromoteRoute": { roles: ROUTE },
  "baton.v1.RouteService/RollbackRoute": { roles: ROUTE },
  "baton.v1.RouteService/DeleteRoute": { roles: ROUTE },

  // Tasks: workers, for their own task types only.
  "baton.v1.TaskService/Dispatch": { roles: WORK, scope: "request" },
  "baton.v1.TaskService/Poll": { roles: WORK, scope: "request" },
  "baton.v1.TaskService/UpdateTask": { roles: WORK, scope: "task" },
  "baton.v1.TaskService/UpdateTasks": { roles: WORK, scope: "task" },
  "baton.v1.TaskService/ExtendLease": { roles: WORK, scope: "task" },
  "baton.v1.TaskService/AddTaskLog": { roles: WORK, scope: "task" },
  "baton.v1.TaskService/GetTaskLogs": { roles: [...RUNS_READ, "worker"], scope: "task" },
  "baton.v1.TaskService/ListQueues": { roles: RUNS_READ },
  "baton.v1.TaskService/ListWorkers": { roles: RUNS_READ },

  // Who the caller is (any key).
  "baton.v1.SessionService/WhoAmI": { roles: [...READ, "worker"] },

  // Schedules: publishers define them, operators act on them.
  "baton.v1.ScheduleService/CreateSchedule": { roles: PUBLISH },
  "baton.v1.ScheduleService/UpdateSchedule": { roles: PUBLISH },
  "baton.v1.ScheduleService/DeleteSchedule": { roles: PUBLISH },
  "baton.v1.ScheduleService/GetSchedule": { roles: READ },
  "baton.v1.ScheduleService/ListSchedules": { roles: READ },
  "baton.v1.ScheduleService/PreviewSchedule": { roles: READ },
  "baton.v1.ScheduleService/PauseSchedule": { roles: [...OPERATE, "publisher"] },
  "baton.v1.ScheduleService/ResumeSchedule": { roles: [...OPERATE, "publisher"] },
  "baton.v1.ScheduleService/TriggerSchedule": { roles: OPERATE },
  "baton.v1.ScheduleService/BackfillSchedule": { roles: OPERATE },
  // Removing ended runs.
  "baton.v1.RetentionService/PurgeRuns": { roles: ["admin"] },

  // Key management.
  "baton.admin.v1.KeyService/CreateKey": { roles: ["admin"] },
  "baton.admin.v1.KeyService/ListKeys": { roles: ["admin"] },
  "baton.admin.v1.KeyService/RevokeKey": { roles: ["admin"] },
};

/** Whether `principal`'s role may call `method` at all (task scope is checked separately). */
export function mayCall(principal: Principal, method: string): boolean {
  if (principal.role === "admin") return true;
  return RULES[method]?.roles.includes(principal.role) ?? false;
}

/** The roles whose keys may call `method` (admin's may call every method), in words: "publisher or admin". */
export function rolesThatMayCall(method: string): string {
  const roles = [...new Set([...(RULES[method]?.roles ?? []), "admin"])];
  return roles.length === 1 ? roles[0]! : `${roles.slice(0, -1).join(", ")} or ${roles[roles.length - 1]!}`;
}

/** The scope check a method needs for this principal, if any. */
export function scopeOf(principal: Principal, method: string): Scope | undefined {
  if (principal.role !== "worker" || principal.taskTypes.includes("*")) return undefined;
  return RULES[method]?.scope;
}

export function inScope(principal: Principal, taskType: string): boolean {
  return principal.taskTypes.includes("*") || principal.taskTypes.includes(taskType);
}

const REGISTER_DEFINITIONS = "baton.v1.MetadataService/RegisterWorkflowDef";
const START_RUNS = "baton.v1.WorkflowService/StartWorkflow";

/** Whether a request carries a workflow definition of its own to run (StartWorkflow's and ExecuteWorkflow's definition_json). */
export function carriesDefinition(method: string, request: unknown): boolean {
  const r = request as { definitionJson?: string; start?: { definitionJson?: string } } | undefined;
  if (method === START_RUNS) return !!r?.definitionJson;
  if (method === "baton.v1.WorkflowService/ExecuteWorkflow") return !!r?.start?.definitionJson;
  return false;
}

/**
 * Running a definition sent with a request publishes it: it needs the rights
 * to register definitions and to start runs (so, of the roles, admin), unless
 * the server lets every key that may start runs do it (`operatorsMay`).
 */
export function mayRunInlineDefinition(principal: Principal, operatorsMay: boolean): boolean {
  if (!mayCall(principal, START_RUNS)) return false;
  return operatorsMay || mayCall(principal, REGISTER_DEFINITIONS);
}

export const INLINE_DEFINITION_DENIED =
  "running a definition sent with the request needs a key that may both register definitions and start runs (an admin key); " +
  "register the definition (publisher) and start it by name (operator), or start the server with --allow-inline-definitions (BATON_ALLOW_INLINE_DEFINITIONS=1)";

/** The operator method whose rights each event handler action needs: every action changes runs. */
const ACTION_RIGHTS: Readonly<Record<string, string>> = {
  start_workflow: START_RUNS,
  complete_task: "baton.v1.WorkflowService/SignalTask",
  fail_task: "baton.v1.WorkflowService/SignalTask",
  terminate_workflow: "baton.v1.WorkflowService/TerminateWorkflow",
  update_workflow_variables: "baton.v1.WorkflowService/SignalTask",
};

/** The method whose rights an event handler action needs (an unknown action: admin's). */
export function actionRight(action: unknown): string {
  return ACTION_RIGHTS[String(action)] ?? "baton.admin.v1.KeyService/CreateKey";
}

/**
 * The rights an event handler's actions need beyond registering it: a handler
 * acts on runs with its owner's rights, so whoever registers it must hold
 * them (a publisher alone may not make a handler that signals a run). An
 * unknown action needs admin; text that does not parse needs nothing here
 * (the service refuses it).
 */
export function eventHandlerRights(handler: unknown): string[] {
  const actions = (handler as { actions?: unknown } | null)?.actions;
  if (!Array.isArray(actions)) return [];
  const out = new Set<string>();
  for (const a of actions) {
    const kind = (a as { action?: unknown } | null)?.action;
    out.add(actionRight(kind));
  }
  return [...out];
}

export function lacksRights(principal: Principal, methods: string[]): string | undefined {
  const missing = methods.filter((m) => !mayCall(principal, m));
  return missing.length === 0
    ? undefined
    : `this event handler's actions change runs: registering it needs the rights of ${missing.join(", ")} too, which role ${principal.role} does not have (use a key that may also operate runs, e.g. admin)`;
}
