// What an event handler's actions do, through the Engine's public API: each
// action is its own event on its own run (one transaction), so one that fails
// leaves the others done.
import { quoted, shortened, stringifyJson } from "@baton/json";
import { definitionRef, type EventHandlerAction } from "@baton/sdk";
import type { Json } from "../expressions/json.js";
import { Refusal } from "../decider/decider.js";
import { TERMINAL_TASK, type TaskState } from "../decider/model.js";
import { isUuid } from "../rules/ids.js";
import { Overloaded, type Engine } from "../runtime/engine.js";
import type { Store } from "../store/store.js";
import { substitute, type ResolveWithFilters } from "./payload.js";

/** Where an action comes from: its event and handler. */
export interface ActionContext {
  /** Actions are events on runs, or starts. */
  engine: Pick<Engine, "handle" | "start">;
  /** Finding the task an action names. */
  store: Pick<Store, "getRun" | "runIdOfTask" | "finishedEventsOf">;
  eventId: number;
  eventName: string;
  /** The run tree whose EVENT task published the event: a run an action starts joins it (a loop through events is bounded as one through START_WORKFLOW). */
  root: string | null;
  /** The fairness key and weight of the run whose EVENT task published the event: a run an action starts takes them when its own workflow names no key. */
  fairShare?: { key: string; weight: number };
  handlerName: string;
  /** The action's index in its handler. */
  index: number;
  /** The server clock's now, for `${$.currentTimeMillis()}`. */
  now: number;
  /** Templates whose paths hold filters are resolved in the queries pool. */
  resolveWithFilters: ResolveWithFilters;
}

/** What an action did, for the log. */
export type ActionOutcome =
  | { done: "completed" | "failed"; runId: string; taskId: string }
  | { done: "started"; runId: string; created: boolean }
  | { done: "terminated" | "variables updated"; runId: string }
  | { ignored: string };

/** Carries out one action with the payload; throws when it cannot (the caller logs and goes on). */
export async function runAction(ctx: ActionContext, action: EventHandlerAction, payload: Json): Promise<ActionOutcome> {
  switch (action.action) {
    case "complete_task":
    case "fail_task":
      return updateTask(ctx, action.action, (action[action.action] ?? {}) as Record<string, unknown>, payload);
    case "start_workflow":
      return startWorkflow(ctx, (action.start_workflow ?? {}) as unknown as Record<string, unknown>, payload);
    case "terminate_workflow":
      return terminateWorkflow(ctx, (action.terminate_workflow ?? {}) as unknown as Record<string, unknown>, payload);
    case "update_workflow_variables":
      return updateVariables(ctx, (action.update_workflow_variables ?? {}) as unknown as Record<string, unknown>, payload);
    default:
      throw new Error(`unknown action ${quoted((action as { action?: unknown }).action)}`);
  }
}

function text(value: Json | undefined): string {
  if (value === undefined || value === null) return "";
  return typeof value === "string" ? value : typeof value === "object" ? stringifyJson(value) : String(value);
}

function eventFields(ctx: ActionContext): Record<string, Json> {
  return { "conductor.event.messageId": String(ctx.eventId), "conductor.event.name": ctx.eventName };
}

async function updateTask(ctx: ActionContext, kind: "complete_task" | "fail_task", details: Record<string, unknown>, payload: Json): Promise<ActionOutcome> {
  const resolved = (await substitute(details, payload, ctx.now, ctx.resolveWithFilters)) as Record<string, Json>;
  const workflowId = text(resolved["workflowId"]);
  const taskRefName = text(resolved["taskRefName"]);
  const taskId = text(resolved["taskId"]);
  const given = resolved["output"];
  // As in Conductor, the task's output is the resolved details (ids and output fields) and the event's id and name.
  const output: Record<string, Json> = {
    ...(workflowId ? { workflowId } : {}),
    ...(taskRefName ? { taskRefName } : {}),
    ...(taskId ? { taskId } : {}),
    ...(given !== null && typeof given === "object" && !Array.isArray(given) ? given : {}),
    ...eventFields(ctx),
  };
  let task: TaskState | undefined;
  let runId = workflowId;
  if (taskId) {
    const owner = await ctx.store.runIdOfTask(taskId);
    const found = owner ? (await ctx.store.getRun(owner, true))?.tasks.find((t) => t.id === taskId) : undefined;
    if (!found) throw new Error(`no task ${shortened(taskId)}`);
    task = found;
    runId = found.runId;
  } else {
    if (!isUuid(workflowId)) throw new Error(`no run ${quoted(workflowId)}`);
    const loaded = await ctx.store.getRun(workflowId, true);
    if (!loaded) throw new Error(`no run ${workflowId}`);
    // The latest instance with that reference (a loop's iterations carry `__<n>`), preferring one still open.
    const instances = loaded.tasks.filter((t) => t.ref === taskRefName || definitionRef(t.ref) === taskRefName).sort((a, b) => a.seq - b.seq);
    if (instances.length === 0) throw new Error(`no task with reference ${shortened(taskRefName)} in run ${workflowId}`);
    task = [...instances].reverse().find((t) => !TERMINAL_TASK.has(t.status)) ?? instances[instances.length - 1]!;
  }
  if (TERMINAL_TASK.has(task.status)) return { ignored: `task ${task.ref} has already ended (${task.status})` };
  const status = kind === "complete_task" ? "COMPLETED" : "FAILED";
  const reason = kind === "fail_task" ? text(resolved["reasonForIncompletion"]) || `failed by event handler ${ctx.handlerName} on ${ctx.eventName}` : "";
  try {
    await ctx.engine.handle(runId, { kind: "signal", taskId: task.id, status, output, reason });
  } catch (error) {
    // Ended between the read and the signal (another handler, a worker, a redelivery): nothing to do.
    if (error instanceof Refusal && error.code === "FAILED_PRECONDITION") return { ignored: error.message };
    throw error;
  }
  return { done: kind === "complete_task" ? "completed" : "failed", runId, taskId: task.id };
}

async function startWorkflow(ctx: ActionContext, details: Record<string, unknown>, payload: Json): Promise<ActionOutcome> {
  const resolved = (await substitute(details, payload, ctx.now, ctx.resolveWithFilters)) as Record<string, Json>;
  const name = text(resolved["name"]);
  if (!name) throw new Error("start_workflow has no name");
  const rawVersion = resolved["version"];
  const version = rawVersion === null || rawVersion === undefined || rawVersion === "" ? undefined : Number(rawVersion);
  if (version !== undefined && !Number.isInteger(version)) throw new Error(`start_workflow version ${quoted(rawVersion)} is not an integer`);
  const input = resolved["input"];
  const correlationId = text(resolved["correlationId"]);
  const options = {
    name,
    ...(version !== undefined ? { version } : {}),
    input: { ...(input !== null && typeof input === "object" && !Array.isArray(input) ? input : {}), ...eventFields(ctx) },
    ...(correlationId ? { correlationId } : {}),
    // A redelivered event starts nothing twice.
    idempotencyKey: `event:${ctx.eventId}:${ctx.handlerName}:${ctx.index}`,
    ...(ctx.root ? { tree: { root: ctx.root } } : {}),
    ...(ctx.fairShare ? { fairShare: ctx.fairShare } : {}),
  };
  for (let attempt = 0; ; attempt++) {
    try {
      const started = await ctx.engine.start(options);
      return { done: "started", runId: started.runId, created: started.created };
    } catch (error) {
      if (!(error instanceof Overloaded) || attempt >= 20) throw error;
      await new Promise((r) => setTimeout(r, error.retryAfterMs));
    }
  }
}

async function updateVariables(ctx: ActionContext, details: Record<string, unknown>, payload: Json): Promise<ActionOutcome> {
  const resolved = (await substitute(details, payload, ctx.now, ctx.resolveWithFilters)) as Record<string, Json>;
  const workflowId = text(resolved["workflowId"]);
  if (!isUuid(workflowId)) throw new Error(`no run ${quoted(workflowId)}`);
  const variables = resolved["variables"];
  if (variables === null || typeof variables !== "object" || Array.isArray(variables))
    throw new Error("update_workflow_variables needs an object of variables");
  // Applied once: an event taken again after its consumer died mid-event would append twice. The run records the
  // action in the transaction that applies it; records of events handled since go (gone from the bus for good).
  const once = { event: ctx.eventId, action: `${ctx.handlerName}#${ctx.index}`, finished: await ctx.store.finishedEventsOf(workflowId) };
  try {
    await ctx.engine.handle(workflowId, { kind: "updateVariables", variables, appendArray: resolved["appendArray"] === true, once });
  } catch (error) {
    if (error instanceof Refusal && error.code === "FAILED_PRECONDITION") return { ignored: error.message };
    throw error;
  }
  return { done: "variables updated", runId: workflowId };
}

async function terminateWorkflow(ctx: ActionContext, details: Record<string, unknown>, payload: Json): Promise<ActionOutcome> {
  const resolved = (await substitute(details, payload, ctx.now, ctx.resolveWithFilters)) as Record<string, Json>;
  const workflowId = text(resolved["workflowId"]);
  if (!isUuid(workflowId)) throw new Error(`no run ${quoted(workflowId)}`);
  const reason = text(resolved["terminationReason"]) || `terminated by event handler ${ctx.handlerName} on ${ctx.eventName}`;
  try {
    await ctx.engine.handle(workflowId, { kind: "terminate", reason });
  } catch (error) {
    if (error instanceof Refusal && error.code === "FAILED_PRECONDITION") return { ignored: error.message };
    throw error;
  }
  return { done: "terminated", runId: workflowId };
}
