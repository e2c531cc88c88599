// Glue between protobuf-es service descriptors and @grpc/grpc-js: the
// descriptor is the single source of method names, paths and message types,
// so a change to the .proto shows up as a type error in every handler.
import {
  create,
  fromBinary,
  toBinary,
  type DescMessage,
  type DescMethod,
  type DescService,
  type MessageInitShape,
  type MessageShape,
} from "@bufbuild/protobuf";
import type { GenService, GenServiceMethods } from "@bufbuild/protobuf/codegenv2";
import * as grpc from "@grpc/grpc-js";
import { abridged } from "@baton/json";
import { encodedInSlices, slicedEncoding } from "./encode-in-slices.js";
import { jsonEncodedInSlices } from "./json-in-slices.js";

type Methods<S> = S extends GenService<infer M> ? M : never;
type In<M extends Pick<DescMethod, "input">> = MessageShape<M["input"]>;
type Out<M extends Pick<DescMethod, "output">> = MessageShape<M["output"]>;
type OutInit<M extends Pick<DescMethod, "output">> = MessageInitShape<M["output"]>;

/** What a server implements for one service: one function per method. */
export type ServiceImpl<S extends GenService<GenServiceMethods>> = {
  [K in keyof Methods<S>]: Methods<S>[K]["methodKind"] extends "unary"
    ? (request: In<Methods<S>[K]>, call: grpc.ServerUnaryCall<In<Methods<S>[K]>, Out<Methods<S>[K]>>) => Promise<OutInit<Methods<S>[K]>>
    : Methods<S>[K]["methodKind"] extends "bidi_streaming"
      ? (call: grpc.ServerDuplexStream<In<Methods<S>[K]>, OutInit<Methods<S>[K]>>) => void
      : never;
};

/** Per-call options a client may pass. */
export interface CallOptions {
  /** Absolute deadline, or milliseconds from now. */
  deadline?: Date | number;
  metadata?: grpc.Metadata;
  signal?: AbortSignal;
}

/** A typed client for one service. */
export type ServiceClient<S extends GenService<GenServiceMethods>> = {
  [K in keyof Methods<S>]: Methods<S>[K]["methodKind"] extends "unary"
    ? (request: MessageInitShape<Methods<S>[K]["input"]>, options?: CallOptions) => Promise<Out<Methods<S>[K]>>
    : Methods<S>[K]["methodKind"] extends "bidi_streaming"
      ? (options?: CallOptions) => grpc.ClientDuplexStream<MessageInitShape<Methods<S>[K]["input"]>, Out<Methods<S>[K]>>
      : never;
};

function path(service: DescService, method: DescMethod): string {
  return `/${service.typeName}/${method.name}`;
}

function codec(schema: DescMessage) {
  return {
    serialize: (value: MessageInitShape<DescMessage>) => {
      const bytes = slicedEncoding(value) ?? toBinary(schema, create(schema, value));
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength); // the same memory, not a copy
    },
    deserialize: (bytes: Buffer) => fromBinary(schema, bytes),
  };
}

/**
 * Stands for a request message whose bytes did not decode. grpc-js answers a
 * deserializer that throws with INTERNAL; decoding into this instead lets the
 * handler refuse the message as the caller's error (INVALID_ARGUMENT).
 */
class Undecodable {
  constructor(readonly reason: string) {}
}

function decodeRequest(schema: DescMessage) {
  return (bytes: Buffer): unknown => {
    try {
      return fromBinary(schema, bytes);
    } catch (error) {
      return new Undecodable(error instanceof Error ? error.message : String(error));
    }
  };
}

/** A unary request of this many bytes or more is decoded after grpc-js hands it on (EncodedRequest). */
export const DECODE_LATER_BYTES = 256 * 1024;

/**
 * A unary request's bytes, not yet decoded. grpc-js decodes each message in
 * the turn of the event loop whose bytes complete it, and the calls whose
 * last bytes arrive together (four publishes of 4 MiB at once on one
 * connection) were decoded in one turn, their texts with them. A server
 * interceptor may decode it in a turn of its own (decode()); the handlers
 * decode one that reaches them as it is.
 */
export class EncodedRequest {
  constructor(
    readonly bytes: Buffer,
    private readonly schema: DescMessage,
  ) {}

  /** The request, or an Undecodable the handler refuses. */
  decode(): unknown {
    return decodeRequest(this.schema)(this.bytes);
  }
}

function decodeUnaryRequest(schema: DescMessage) {
  const now = decodeRequest(schema);
  return (bytes: Buffer): unknown => (bytes.length >= DECODE_LATER_BYTES ? new EncodedRequest(bytes, schema) : now(bytes));
}

/** The first string field holding a NUL character, if any (nothing downstream can store one). */
function findNul(value: unknown, path: string, depth = 0): string | undefined {
  if (typeof value === "string") return value.includes("\u0000") ? path : undefined;
  if (!value || typeof value !== "object" || depth > 32 || value instanceof Uint8Array) return undefined;
  for (const [key, item] of Object.entries(value)) {
    if (key === "$typeName") continue;
    const found = findNul(item, path ? `${path}.${key}` : key, depth + 1);
    if (found) return found;
  }
  return undefined;
}

/** The grpc-js service definition for a protobuf-es service descriptor. */
export function serviceDefinition(service: DescService): grpc.ServiceDefinition {
  const definition: Record<string, grpc.MethodDefinition<unknown, unknown>> = {};
  for (const method of service.methods) {
    const input = codec(method.input);
    const output = codec(method.output);
    definition[method.localName] = {
      path: path(service, method),
      requestStream: method.methodKind === "client_streaming" || method.methodKind === "bidi_streaming",
      responseStream: method.methodKind === "server_streaming" || method.methodKind === "bidi_streaming",
      requestSerialize: input.serialize as (value: unknown) => Buffer,
      // A malformed request is the caller's error (INVALID_ARGUMENT), not INTERNAL:
      // serviceHandlers refuses the Undecodable this yields, for unary calls and streams.
      requestDeserialize: method.methodKind === "unary" ? decodeUnaryRequest(method.input) : decodeRequest(method.input),
      responseSerialize: output.serialize as (value: unknown) => Buffer,
      responseDeserialize: output.deserialize,
    };
  }
  return definition;
}

/** An error carrying a gRPC status code, for handlers to throw. */
export class RpcError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
    readonly metadata?: grpc.Metadata,
  ) {
    super(message);
    this.name = "RpcError";
  }
}

/** A status's details travel in a header: a message quoting megabytes of a request would drop the call, so it is shortened here whatever made it. */
function toServiceError(error: unknown): Partial<grpc.ServiceError> {
  if (error instanceof RpcError) {
    return { code: error.code, details: abridged(error.message), ...(error.metadata ? { metadata: error.metadata } : {}) };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: grpc.status.INTERNAL, details: abridged(message) };
}

/**
 * Ends a server stream with `error`'s status. grpc-js sends a stream's status
 * when the handler emits "error" on it; `call.destroy(error)` would tear the
 * stream down without any status, leaving the client waiting for its deadline.
 */
export function failStream<I, O>(call: grpc.ServerDuplexStream<I, O>, error: RpcError): void {
  call.emit("error", new RpcError(error.code, abridged(error.message), error.metadata));
}

/**
 * Keeps undecodable messages away from a stream's handler: grpc-js hands each
 * decoded message to the stream through push(), so the first Undecodable ends
 * the call with INVALID_ARGUMENT instead of reaching a "data" listener.
 */
function refuseUndecodable(call: grpc.ServerDuplexStream<unknown, unknown>, typeName: string): void {
  const push = call.push.bind(call);
  let index = 0;
  let refused = false;
  call.push = (chunk: unknown, encoding?: BufferEncoding) => {
    if (refused) return false;
    if (chunk === null) return push(chunk, encoding);
    index++;
    if (!(chunk instanceof Undecodable)) return push(chunk, encoding);
    refused = true;
    failStream(call, new RpcError(grpc.status.INVALID_ARGUMENT, `message ${index} on the stream could not be decoded as ${typeName}: ${chunk.reason}`));
    return false;
  };
}

/**
 * grpc-js's server stream hands a message to the HTTP/2 stream only once the
 * one before it was written out, and that takes a turn of the event loop for
 * about every two messages: the 16th of a burst went out 7 turns after the
 * first, and on a busy server a turn is 10-100 ms (a quiet key's task behind a
 * flood's on a worker's dispatch stream waited 77-83 ms p50 between written
 * and gone out). With a `_writev`, everything waiting when a write is done
 * goes to the HTTP/2 stream at once, in order, which writes it in one go.
 * Each message's callback still comes once it has gone out.
 */
function writeWaitingTogether(call: grpc.ServerDuplexStream<unknown, unknown>): void {
  call._writev = (chunks, callback) => {
    let left = chunks.length;
    let failed: Error | null | undefined;
    for (const { chunk, encoding } of chunks) {
      call._write(chunk, encoding, (error?: Error | null) => {
        failed ??= error;
        if (--left === 0) callback(failed);
      });
    }
  };
}

/**
 * Marks a call whose reply goes out as JSON (a Connect call in JSON), not in
 * protobuf's binary form: a long reply is written as JSON in slices and handed
 * on as a stand-in for `slicedJsonEncoder` (json-in-slices.ts).
 */
export const REPLY_AS_JSON = Symbol("reply as JSON");

const replyAsJson = (call: object) => (call as { [REPLY_AS_JSON]?: boolean })[REPLY_AS_JSON] === true;

/**
 * Adapts a typed implementation to grpc-js handlers. Unary handlers are async
 * functions; what they throw becomes the call's status (RpcError keeps its
 * code, anything else is INTERNAL). A reply with long lists of messages is
 * encoded in slices before it is sent (encode-in-slices.ts, or
 * json-in-slices.ts for a reply going out as JSON), so it does not hold the
 * event loop for all of it at once.
 */
export function serviceHandlers<S extends GenService<GenServiceMethods>>(
  service: S,
  impl: ServiceImpl<S>,
  onError?: (method: string, error: unknown) => void,
): grpc.UntypedServiceImplementation {
  const handlers: grpc.UntypedServiceImplementation = {};
  const table = impl as unknown as Record<string, (...args: unknown[]) => unknown>;
  for (const method of service.methods) {
    const fn = table[method.localName];
    if (!fn) throw new Error(`missing handler for ${service.typeName}.${method.name}`);
    if (method.methodKind === "unary") {
      handlers[method.localName] = (call: grpc.ServerUnaryCall<unknown, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        if (call.request instanceof EncodedRequest) call.request = call.request.decode();
        if (call.request instanceof Undecodable) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: `the request could not be decoded as ${method.input.typeName}: ${call.request.reason}` });
          return;
        }
        const nul = findNul(call.request, "");
        if (nul) {
          callback({ code: grpc.status.INVALID_ARGUMENT, details: `${nul} holds a NUL character` });
          return;
        }
        Promise.resolve()
          .then(() => fn(call.request, call))
          .then((response) => (replyAsJson(call) ? jsonEncodedInSlices : encodedInSlices)(method.output, response as MessageInitShape<DescMessage>))
          .then(
            (response) => callback(null, response),
            (error: unknown) => {
              if (!(error instanceof RpcError)) onError?.(method.name, error);
              callback(toServiceError(error));
            },
          );
      };
    } else {
      handlers[method.localName] = (call: grpc.ServerDuplexStream<unknown, unknown>) => {
        refuseUndecodable(call, method.input.typeName);
        writeWaitingTogether(call);
        fn(call);
      };
    }
  }
  return handlers;
}

function callArgs(options: CallOptions | undefined): [grpc.Metadata, grpc.CallOptions] {
  const callOptions: grpc.CallOptions = {};
  if (options?.deadline !== undefined) {
    callOptions.deadline = typeof options.deadline === "number" ? Date.now() + options.deadline : options.deadline;
  }
  return [options?.metadata ?? new grpc.Metadata(), callOptions];
}

/** A typed client for `service` over a grpc-js channel. */
export function createClient<S extends GenService<GenServiceMethods>>(
  service: S,
  client: grpc.Client,
  defaults: { metadata?: () => grpc.Metadata } = {},
): ServiceClient<S> {
  const result: Record<string, unknown> = {};
  for (const method of service.methods) {
    const input = codec(method.input);
    const output = codec(method.output);
    const methodPath = path(service, method);
    const withDefaults = (options: CallOptions | undefined): [grpc.Metadata, grpc.CallOptions] => {
      const [metadata, callOptions] = callArgs(options);
      const base = defaults.metadata?.();
      if (base) metadata.merge(base);
      return [metadata, callOptions];
    };
    if (method.methodKind === "unary") {
      result[method.localName] = (request: MessageInitShape<DescMessage>, options?: CallOptions) =>
        new Promise((resolve, reject) => {
          const [metadata, callOptions] = withDefaults(options);
          const call = client.makeUnaryRequest(methodPath, input.serialize, output.deserialize, request, metadata, callOptions, (error, response) =>
            error ? reject(error) : resolve(response),
          );
          options?.signal?.addEventListener("abort", () => call.cancel(), { once: true });
        });
    } else if (method.methodKind === "bidi_streaming") {
      result[method.localName] = (options?: CallOptions) => {
        const [metadata, callOptions] = withDefaults(options);
        const call = client.makeBidiStreamRequest(methodPath, input.serialize, output.deserialize, metadata, callOptions);
        options?.signal?.addEventListener("abort", () => call.cancel(), { once: true });
        return call;
      };
    }
  }
  return result as ServiceClient<S>;
}

export { grpc };
