// Who may call a REST endpoint: the same keys, roles and task-type scopes as
// the gRPC door. Each route names the gRPC method whose rights it needs; the
// key comes as `Authorization: Bearer <key>` or as Conductor's SDKs send it,
// `X-Authorization: <key>` (the token /api/token hands out is the key itself).
import type { IncomingHttpHeaders } from "node:http";
import { grpc, RpcError } from "@baton/protocol";
import { ANONYMOUS, INLINE_DEFINITION_DENIED, inScope, lacksRights, mayCall, mayRunInlineDefinition, scopeOf, type Principal } from "../auth/policy.js";

export interface AdmissionOptions {
  /** Undefined when authentication is disabled: every request runs as an anonymous admin. */
  authenticate?: (metadata: grpc.Metadata) => Promise<Principal>;
  /** A task id's type, for worker scope checks (undefined: no such task). */
  taskTypeOf: (taskId: string) => Promise<string | undefined>;
  /** Whether keys that may start runs may also run a definition sent with the request (else admin keys only). */
  inlineDefinitions?: boolean;
}

/** What a request touches, for a scoped worker key; and whether it carries a definition to run. */
export interface Touches {
  definition?: boolean;
  /** Methods whose rights the request needs too (an event handler's actions). */
  also?: string[];
  taskTypes?: string[];
  taskIds?: string[];
}

export class Admission {
  constructor(private readonly options: AdmissionOptions) {}

  /** The principal of a request's headers; throws UNAUTHENTICATED. */
  async principal(headers: IncomingHttpHeaders): Promise<Principal> {
    if (!this.options.authenticate) return ANONYMOUS;
    const metadata = new grpc.Metadata();
    const bearer = single(headers["authorization"]);
    const conductor = single(headers["x-authorization"]);
    if (bearer) metadata.set("authorization", bearer);
    else if (conductor) metadata.set("authorization", /^Bearer\s/i.test(conductor) ? conductor : `Bearer ${conductor}`);
    return this.options.authenticate(metadata);
  }

  /** Checks a key as a request bearing it would be checked (for the token exchange). */
  async verifyKey(key: string): Promise<void> {
    if (!this.options.authenticate) return;
    const metadata = new grpc.Metadata();
    metadata.set("authorization", `Bearer ${key}`);
    await this.options.authenticate(metadata);
  }

  /** Refuses (PERMISSION_DENIED) unless `principal` may call `method` on what the request touches. */
  async check(principal: Principal, method: string, touches: Touches = {}): Promise<void> {
    if (!mayCall(principal, method)) throw new RpcError(grpc.status.PERMISSION_DENIED, `role ${principal.role} may not call ${method}`);
    if (touches.definition && !mayRunInlineDefinition(principal, this.options.inlineDefinitions ?? false))
      throw new RpcError(grpc.status.PERMISSION_DENIED, INLINE_DEFINITION_DENIED);
    const lacking = lacksRights(principal, touches.also ?? []);
    if (lacking) throw new RpcError(grpc.status.PERMISSION_DENIED, lacking);
    const scope = scopeOf(principal, method);
    if (scope === undefined) return;
    const outside = (touches.taskTypes ?? []).filter((t) => !inScope(principal, t));
    if (outside.length > 0)
      throw new RpcError(grpc.status.PERMISSION_DENIED, `this key may not work on task type${outside.length > 1 ? "s" : ""} ${outside.join(", ")}`);
    for (const id of new Set(touches.taskIds ?? [])) {
      const type = await this.options.taskTypeOf(id);
      if (type !== undefined && !inScope(principal, type))
        throw new RpcError(grpc.status.PERMISSION_DENIED, `this key may not work on task ${id} (type ${type})`);
    }
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
