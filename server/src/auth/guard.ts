// The one place where requests are admitted: every handler of every service is
// wrapped here, keyed by its full method name. A request is authenticated
// (unless auth is disabled), its role checked against the policy table, and a
// worker key's task-type scope checked against what the request names, before
// the service implementation sees it. Also where each call's outcome is
// counted for metrics. Keys and metadata are never logged.
import { EncodedRequest, grpc, RpcError } from "@baton/protocol";
import type { DescService } from "@bufbuild/protobuf";
import type { Logger } from "../logger.js";
import { AuthError } from "./authenticator.js";
import { checkRole, checkTaskTypes, checkTouches, type Touches } from "./call-check.js";
import type { OpenCalls } from "./open-calls.js";
import { ANONYMOUS, carriesDefinition, scopeOf, type Principal } from "./policy.js";

export interface MethodInfo {
  /** Key in the grpc-js handler table. */
  localName: string;
  /** Full name: "baton.v1.TaskService/Poll". */
  name: string;
  streaming: boolean;
}

export function methodsOf(service: DescService): MethodInfo[] {
  return service.methods.map((m) => ({ localName: m.localName, name: `${service.typeName}/${m.name}`, streaming: m.methodKind !== "unary" }));
}

export interface GuardOptions {
  /** Undefined when authentication is disabled: every call runs as an anonymous admin. */
  authenticate?: (metadata: grpc.Metadata) => Promise<Principal>;
  /** A task id's type, for worker scope checks (undefined: no such task). */
  taskTypeOf: (taskId: string) => Promise<string | undefined>;
  /** Whether keys that may start runs (operators) may also run definitions sent with the request; else only admin keys may. */
  inlineDefinitions?: boolean;
  /** Where admitted calls are registered, so revoking a key (or a stream's age) ends them. */
  calls?: OpenCalls;
  /** Called once per call with its final status. */
  observe?: (method: string, code: grpc.status, seconds: number) => void;
  log: Logger;
}

const principals = new WeakMap<object, Principal>();

/** The principal a call was admitted as (set before the handler runs). */
export function principalOfCall(call: object): Principal | undefined {
  return principals.get(call);
}

/** The id of the key a call was admitted with; "" without keys (the anonymous principal) or outside a call. */
export function keyIdOfCall(call: unknown): string {
  const principal = principalOfCall(call as object);
  return principal && principal.id !== ANONYMOUS.id ? principal.id : "";
}

/** Marks `call` as made by `principal`: for a door that calls the services in process (Conductor's REST). */
export function actAs<T extends object>(call: T, principal: Principal): T {
  principals.set(call, principal);
  return call;
}

function status(error: unknown): { code: grpc.status; details: string } {
  if (error instanceof RpcError) return { code: error.code, details: error.message };
  return { code: grpc.status.INTERNAL, details: error instanceof Error ? error.message : String(error) };
}

/** Task ids a unary task-scoped request names. */
function taskIdsOf(method: string, request: unknown): string[] {
  const r = request as { taskId?: string; result?: { taskId?: string }; results?: { taskId?: string }[] };
  if (method.endsWith("/UpdateTask")) return r.result?.taskId ? [r.result.taskId] : [];
  if (method.endsWith("/UpdateTasks")) return (r.results ?? []).map((x) => x.taskId ?? "").filter((id) => id !== "");
  return r.taskId ? [r.taskId] : [];
}

/** Task types a request names directly (Poll; Dispatch names them in its subscribe message). */
function taskTypesOf(request: unknown): string[] {
  const r = request as { taskType?: string; kind?: { case?: string; value?: { taskTypes?: string[] } } };
  if (r.kind) return r.kind.case === "subscribe" ? (r.kind.value?.taskTypes ?? []) : [];
  return r.taskType !== undefined ? [r.taskType] : [];
}

/** What a unary request touches: a scoped worker key is checked on the task types it names, or on its tasks' types. */
function touchesOf(method: string, principal: Principal, request: unknown): Touches {
  const scope = scopeOf(principal, method);
  return {
    definition: carriesDefinition(method, request),
    taskTypes: scope === "request" ? taskTypesOf(request) : [],
    taskIds: scope === "task" ? taskIdsOf(method, request) : [],
  };
}

export function guard(methods: MethodInfo[], handlers: grpc.UntypedServiceImplementation, options: GuardOptions): grpc.UntypedServiceImplementation {
  const { log } = options;
  const wrapped: grpc.UntypedServiceImplementation = {};

  const refuse = (method: string, principal: Principal | undefined, error: RpcError, peer: string) => {
    const fields = { method, peer, code: grpc.status[error.code], ...(principal ? { keyId: principal.id, role: principal.role } : {}) };
    if (error instanceof AuthError) log.info({ ...fields, reason: error.reason, ...(error.keyId ? { keyId: error.keyId } : {}) }, "request not authenticated");
    else if (error.code === grpc.status.PERMISSION_DENIED) log.warn({ ...fields, reason: error.message }, "request not permitted");
  };

  const authenticate = async (metadata: grpc.Metadata): Promise<Principal> => (options.authenticate ? options.authenticate(metadata) : ANONYMOUS);

  for (const { localName, name, streaming } of methods) {
    const inner = handlers[localName] as ((...args: unknown[]) => void) | undefined;
    if (!inner) throw new Error(`no handler for ${name}`);

    if (!streaming) {
      wrapped[localName] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        // What the request names is checked below: one not decoded by the request budget's interceptor is decoded here.
        if (call.request instanceof EncodedRequest) call.request = call.request.decode();
        const started = performance.now();
        let principal: Principal | undefined;
        let forget: (() => void) | undefined;
        let answered = false;
        const finish: grpc.sendUnaryData<unknown> = (error, value, trailer, flags) => {
          // A call ended by its key's revocation has answered already; the handler's late answer is dropped.
          if (answered) return;
          answered = true;
          forget?.();
          options.observe?.(name, error ? (error.code ?? grpc.status.UNKNOWN) : grpc.status.OK, (performance.now() - started) / 1000);
          callback(error, value, trailer, flags);
        };
        authenticate(call.metadata)
          .then(async (p) => {
            principal = p;
            checkRole(p, name);
            await checkTouches(p, name, touchesOf(name, p, call.request), options);
            principals.set(call, p);
          })
          .then(
            () => {
              if (options.calls && principal && options.authenticate) {
                forget = options.calls.open({
                  keyId: principal.id,
                  streaming: false,
                  end: (error) => {
                    refuse(name, principal, error, call.getPeer());
                    finish(status(error));
                    call.emit("cancelled"); // a long poll or wait stops waiting
                  },
                });
              }
              inner(call, finish);
            },
            (error: unknown) => {
              if (error instanceof RpcError) refuse(name, principal, error, call.getPeer());
              else log.error({ err: error, method: name }, "admission failed");
              finish(status(error));
            },
          );
      };
      continue;
    }

    wrapped[localName] = (call: grpc.ServerDuplexStream<unknown, unknown>) => {
      const started = performance.now();
      let recorded = false;
      const record = (code: grpc.status) => {
        if (recorded) return;
        recorded = true;
        options.observe?.(name, code, (performance.now() - started) / 1000);
      };
      call.on("error", (error: { code?: number }) => record(error.code ?? grpc.status.UNKNOWN));
      call.on("cancelled", () => record(grpc.status.CANCELLED));
      call.on("finish", () => record(grpc.status.OK));
      const fail = (principal: Principal | undefined, error: unknown) => {
        if (error instanceof RpcError) refuse(name, principal, error, call.getPeer());
        call.emit("error", status(error));
      };
      authenticate(call.metadata).then(
        (principal) => {
          try {
            checkRole(principal, name);
          } catch (error) {
            fail(principal, error);
            return;
          }
          principals.set(call, principal);
          if (options.calls) {
            const forget = options.calls.open({ keyId: principal.id, streaming: true, end: (error) => fail(principal, error) });
            for (const event of ["error", "cancelled", "finish", "close"]) call.on(event, forget);
          }
          const scoped = scopeOf(principal, name) === "request";
          if (scoped || options.authenticate) {
            // Each message is checked before the handler sees it, in order: the
            // key again (a stream outlives a revocation; the read is cached) and,
            // for a scoped worker, the task types a subscribe names.
            let refused = false;
            let checked = Promise.resolve();
            const check = async (message: unknown) => {
              if (options.authenticate) {
                // Only a refusal ends the stream: a database that cannot answer right now proves nothing.
                await options.authenticate(call.metadata).catch((error: unknown) => {
                  if (error instanceof AuthError) throw error;
                });
              }
              if (scoped) checkTaskTypes(principal, taskTypesOf(message));
            };
            const on = call.on.bind(call) as (event: string, listener: (...args: unknown[]) => void) => typeof call;
            (call as { on: unknown }).on = (event: string, listener: (...args: unknown[]) => void) => {
              // The client's half-close waits for the messages before it.
              if (event === "end") return on("end", (...args: unknown[]) => void checked.then(() => listener(...args)));
              if (event !== "data") return on(event, listener);
              return on("data", (message: unknown) => {
                checked = checked.then(async () => {
                  if (refused) return;
                  try {
                    await check(message);
                  } catch (error) {
                    refused = true;
                    fail(principal, error);
                    return;
                  }
                  listener(message);
                });
              });
            };
          }
          inner(call);
        },
        (error: unknown) => fail(undefined, error),
      );
    };
  }
  return wrapped;
}
