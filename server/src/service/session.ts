// SessionService: who the caller is, so the console can show what it may do
// (the gate still checks every call).
import { SessionService, type ServiceImpl } from "@baton/protocol";
import { principalOfCall } from "../auth/guard.js";
import { rpc } from "./errors.js";

export function sessionService(authRequired: boolean): ServiceImpl<typeof SessionService> {
  return {
    whoAmI: rpc(async (_req, call) => {
      const principal = principalOfCall(call);
      return { authRequired, keyId: principal?.id ?? "anonymous", name: principal?.name ?? "", role: principal?.role ?? "admin" };
    }),
  };
}
