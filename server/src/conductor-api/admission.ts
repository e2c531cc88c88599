// Who may call a REST endpoint: the same keys, roles and task-type scopes as
// the gRPC door. Each route names the gRPC method whose rights it needs; the
// key comes as `Authorization: Bearer <key>` or as Conductor's SDKs send it,
// `X-Authorization: <key>` (the token /api/token hands out is the key itself).
import type { IncomingHttpHeaders } from "node:http";
import { grpc } from "@baton/protocol";
import { checkRole, checkTouches, type CallCheckOptions, type Touches } from "../auth/call-check.js";
import { ANONYMOUS, type Principal } from "../auth/policy.js";

export interface AdmissionOptions extends CallCheckOptions {
  /** Undefined when authentication is disabled: every request runs as an anonymous admin. */
  authenticate?: (metadata: grpc.Metadata) => Promise<Principal>;
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
    checkRole(principal, method);
    await checkTouches(principal, method, touches, this.options);
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
