// The services both doors use, and how a REST request calls them: the very
// implementations gRPC serves (server/src/service), called in process.
import { actAs } from "../auth/guard.js";
import type { Principal } from "../auth/policy.js";
import type { Store } from "../store/store.js";
import { create, type DescMethod, type MessageShape } from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import type { EventService, MetadataService, ServiceImpl, TaskService, WorkflowService } from "@baton/protocol";
import type { Limits } from "../limits.js";
import type { RestLeases } from "./leases.js";
import { badRequest } from "./errors.js";

type Methods<S> = S extends GenService<infer M> ? M : never;

/** A service's unary methods as REST calls them: the request in, the whole response message out (defaults filled). */
export type Called<S extends GenService<GenServiceMethods>> = {
  [K in keyof Methods<S> as Methods<S>[K]["methodKind"] extends "unary" ? K : never]: (
    request: MessageShape<Methods<S>[K]["input"]>,
    call: never,
  ) => Promise<MessageShape<Methods<S>[K]["output"]>>;
};

/** Wraps an implementation so each unary method answers a complete message, as it would reach a gRPC client. */
export function called<S extends GenService<GenServiceMethods>>(service: S, impl: ServiceImpl<S>): Called<S> {
  const table = impl as unknown as Record<string, (request: unknown, call: unknown) => Promise<object>>;
  const out: Record<string, unknown> = {};
  for (const method of (service as unknown as { methods: DescMethod[] }).methods) {
    if (method.methodKind !== "unary") continue;
    const fn = table[method.localName]!;
    out[method.localName] = async (request: unknown, call: unknown) => create(method.output, (await fn(request, call)) as never);
  }
  return out as Called<S>;
}

export interface Services {
  tasks: Called<typeof TaskService>;
  workflows: Called<typeof WorkflowService>;
  metadata: Called<typeof MetadataService>;
  events: Called<typeof EventService>;
  leases: RestLeases;
  store: Pick<Store, "taskLease" | "requeue">;
  limits: Limits;
}

/**
 * What a service implementation reads of its call: only "cancelled" (a long
 * poll or a start-and-wait ends early when the client goes away).
 */
export function callOf(signal: AbortSignal, principal?: Principal): never {
  const call = {
    on(event: string, listener: () => void) {
      if (event === "cancelled") signal.addEventListener("abort", listener, { once: true });
      return this;
    },
  };
  return (principal ? actAs(call, principal) : call) as never;
}

export function intParam(query: URLSearchParams, name: string, fallback: number): number {
  const text = query.get(name);
  if (text === null || text === "") return fallback;
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw badRequest(`query parameter ${name} must be an integer, not ${JSON.stringify(text.slice(0, 40))}`);
  return n;
}

export function boolParam(query: URLSearchParams, name: string, fallback: boolean): boolean {
  const text = query.get(name);
  if (text === null || text === "") return fallback;
  if (!/^(true|false)$/i.test(text)) throw badRequest(`query parameter ${name} must be true or false, not ${JSON.stringify(text.slice(0, 40))}`);
  return text.toLowerCase() === "true";
}
