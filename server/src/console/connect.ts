// The Connect protocol (what browsers speak) over the very handlers the gRPC
// port serves: each Connect call is handed to the gated grpc-js handler as a
// unary call whose metadata are the HTTP request's headers, so the same
// authentication, roles, metrics and service implementations answer it. Not
// a second API: only the wire differs. Streaming methods (a worker's
// Dispatch) stay gRPC-only.
import { EventEmitter } from "node:events";
import { Code, ConnectError, createContextKey, type ConnectRouter, type HandlerContext } from "@connectrpc/connect";
import type { DescService } from "@bufbuild/protobuf";
import { grpc, REPLY_AS_JSON } from "@baton/protocol";

/** One service as the gRPC server registers it: its descriptor and gated handlers. */
export interface GatedService {
  service: DescService;
  handlers: grpc.UntypedServiceImplementation;
}

/** The caller's address, for logs (what grpc-js calls the peer). */
export const peerKey = createContextKey<string>("unknown", { description: "peer address" });

type UnaryHandler = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => void;

/** Headers a browser sends that mean nothing to the services (kept out of the metadata). */
const SKIPPED = new Set([
  "connection",
  "content-length",
  "content-type",
  "host",
  "cookie",
  "accept-encoding",
  "te",
  "keep-alive",
  "transfer-encoding",
  "upgrade",
]);

function metadataOf(headers: Headers): grpc.Metadata {
  const metadata = new grpc.Metadata();
  headers.forEach((value, key) => {
    if (!SKIPPED.has(key) && !key.startsWith("connect-") && !key.endsWith("-bin")) metadata.add(key, value);
  });
  return metadata;
}

/** Whether the reply goes out in protobuf's binary form (as the console asks), not as JSON. */
function binaryReply(context: HandlerContext): boolean {
  const type = context.requestHeader.get("content-type");
  if (type) return !type.includes("json");
  return new URL(context.url).searchParams.get("encoding") === "proto"; // a GET names its encoding
}

/** The part of grpc-js's ServerUnaryCall the gate and the services use. */
function unaryCall(request: unknown, context: HandlerContext): grpc.ServerUnaryCall<unknown, unknown> {
  const call = new EventEmitter() as EventEmitter & Record<string, unknown>;
  const metadata = metadataOf(context.requestHeader);
  Object.assign(call, {
    request,
    metadata,
    cancelled: false,
    getPeer: () => context.values.get(peerKey),
    getDeadline: () => Infinity,
    getPath: () => `/${context.service.typeName}/${context.method.name}`,
    sendMetadata: () => {},
    [REPLY_AS_JSON]: !binaryReply(context),
  });
  const cancel = () => {
    call["cancelled"] = true;
    call.emit("cancelled");
  };
  if (context.signal.aborted) queueMicrotask(cancel);
  else context.signal.addEventListener("abort", cancel, { once: true });
  return call as unknown as grpc.ServerUnaryCall<unknown, unknown>;
}

export function toConnectError(error: Partial<grpc.StatusObject> | grpc.ServiceError): ConnectError {
  const code = error.code !== undefined && error.code !== grpc.status.OK ? (error.code as number as Code) : Code.Unknown;
  return new ConnectError(("details" in error && error.details) || (error as Error).message || "request failed", code);
}

/** Registers every unary method of `services` on a Connect router. */
export function connectRoutes(services: GatedService[]): (router: ConnectRouter) => void {
  return (router) => {
    for (const { service, handlers } of services) {
      const impl: Record<string, (request: unknown, context: HandlerContext) => Promise<unknown>> = {};
      for (const method of service.methods) {
        if (method.methodKind !== "unary") continue;
        const handler = handlers[method.localName] as UnaryHandler | undefined;
        if (!handler) throw new Error(`no handler for ${service.typeName}.${method.name}`);
        impl[method.localName] = (request, context) =>
          new Promise((resolve, reject) => {
            handler(unaryCall(request, context), (error, value) => (error ? reject(toConnectError(error)) : resolve(value)));
          });
      }
      router.service(service, impl as never);
    }
  };
}
