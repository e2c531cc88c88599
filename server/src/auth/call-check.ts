// What a call is checked for once its key is known, at either door (the gRPC
// guard and Conductor's REST admission): the key's role may call the method,
// a definition sent with the request may be run, the extra rights the request
// needs are held, and a scoped worker key touches only its task types.
import { grpc, RpcError } from "@baton/protocol";
import { MAX_RESULTS_PER_UPDATE, tooManyResults } from "../limits.js";
import { INLINE_DEFINITION_DENIED, inScope, lacksRights, mayCall, mayRunInlineDefinition, rolesThatMayCall, scopeOf, type Principal } from "./policy.js";

/** What a request touches, for the checks beyond the role. */
export interface Touches {
  /** It carries a definition to run. */
  definition?: boolean;
  /** Methods whose rights the request needs too (an event handler's actions). */
  also?: string[];
  /** Task types it names (checked against a scoped key). */
  taskTypes?: string[];
  /** Task ids it names (their types checked against a scoped key). */
  taskIds?: string[];
}

export interface CallCheckOptions {
  /** A task id's type (undefined: no such task). */
  taskTypeOf: (taskId: string) => Promise<string | undefined>;
  /** Whether keys that may start runs may also run a definition sent with the request (else admin keys only). */
  inlineDefinitions?: boolean;
}

export function denied(message: string): RpcError {
  return new RpcError(grpc.status.PERMISSION_DENIED, message);
}

/** Refuses unless the principal's role may call `method`. */
export function checkRole(principal: Principal, method: string): void {
  if (!mayCall(principal, method)) throw denied(`role ${principal.role} may not call ${method}: a key of role ${rolesThatMayCall(method)} may`);
}

/** Refuses the task types outside the principal's scope. */
export function checkTaskTypes(principal: Principal, types: string[]): void {
  const outside = types.filter((t) => !inScope(principal, t));
  if (outside.length > 0) throw denied(`this key may not work on task type${outside.length > 1 ? "s" : ""} ${outside.join(", ")}`);
}

/** Refuses (PERMISSION_DENIED) unless `principal`, whose role may call `method` (checkRole, first), may on what the request touches. */
export async function checkTouches(principal: Principal, method: string, touches: Touches, options: CallCheckOptions): Promise<void> {
  if (touches.definition && !mayRunInlineDefinition(principal, options.inlineDefinitions ?? false)) throw denied(INLINE_DEFINITION_DENIED);
  const lacking = lacksRights(principal, touches.also ?? []);
  if (lacking) throw denied(lacking);
  if (scopeOf(principal, method) === undefined) return;
  checkTaskTypes(principal, touches.taskTypes ?? []);
  const ids = new Set(touches.taskIds ?? []);
  // Each id may cost a read: 60,000 results in one call were 60,000 reads before the service refused any.
  if (ids.size > MAX_RESULTS_PER_UPDATE) throw new RpcError(grpc.status.INVALID_ARGUMENT, tooManyResults(ids.size));
  for (const id of ids) {
    const type = await options.taskTypeOf(id);
    if (type !== undefined && !inScope(principal, type)) throw denied(`this key may not work on task ${id} (type ${type})`);
  }
}
