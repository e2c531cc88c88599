// Key management over the gRPC port, for admin keys: create, list, revoke.
// An admin-only side door, not part of the worker contract in proto/, so its
// messages are JSON (UTF-8) rather than protobuf; `baton keys` is its client.
import { grpc, RpcError } from "@baton/protocol";
import { KeyError, type KeyRecord, type KeyRegistry } from "./keys.js";
import { principalOfCall, type MethodInfo } from "./guard.js";

export const KEY_SERVICE = "baton.admin.v1.KeyService";

export interface CreateKeyRequest {
  role: string;
  name?: string;
  taskTypes?: string[];
}
export interface CreateKeyResponse {
  /** The key itself: shown once, never stored. */
  key: string;
  record: KeyRecord;
}
export interface ListKeysRequest {
  includeRevoked?: boolean;
}
export interface ListKeysResponse {
  keys: KeyRecord[];
}
export interface RevokeKeyRequest {
  id: string;
}
export interface RevokeKeyResponse {
  /** False when the key was revoked already. */
  revoked: boolean;
}

const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value ?? {})),
  deserialize: (bytes: Buffer): unknown => {
    try {
      return JSON.parse(bytes.length === 0 ? "{}" : bytes.toString("utf8")) as unknown;
    } catch {
      return {};
    }
  },
};

const METHODS = { createKey: "CreateKey", listKeys: "ListKeys", revokeKey: "RevokeKey" } as const;

export const keyServiceMethods: MethodInfo[] = Object.entries(METHODS).map(([localName, name]) => ({
  localName,
  name: `${KEY_SERVICE}/${name}`,
  streaming: false,
}));

export const keyServiceDefinition: grpc.ServiceDefinition = Object.fromEntries(
  Object.entries(METHODS).map(([localName, name]) => [
    localName,
    {
      path: `/${KEY_SERVICE}/${name}`,
      requestStream: false,
      responseStream: false,
      requestSerialize: json.serialize,
      requestDeserialize: json.deserialize,
      responseSerialize: json.serialize,
      responseDeserialize: json.deserialize,
    },
  ]),
);

function toRpc(error: unknown): unknown {
  if (error instanceof KeyError) return new RpcError(grpc.status[error.code], error.message);
  return error;
}

type Unary<Req, Res> = (call: grpc.ServerUnaryCall<Req, Res>, callback: grpc.sendUnaryData<Res>) => void;

function unary<Req, Res>(fn: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>): Unary<Req, Res> {
  return (call, callback) => {
    fn(call.request ?? ({} as Req), call).then(
      (response) => callback(null, response),
      (error: unknown) => {
        const e = toRpc(error);
        callback(e instanceof RpcError ? { code: e.code, details: e.message } : { code: grpc.status.INTERNAL, details: (e as Error).message });
      },
    );
  };
}

export function keyServiceHandlers(registry: KeyRegistry, onRevoked: (id: string) => void): grpc.UntypedServiceImplementation {
  const str = (v: unknown) => (typeof v === "string" ? v : "");
  return {
    createKey: unary<CreateKeyRequest, CreateKeyResponse>(async (req, call) => {
      const by = principalOfCall(call);
      return registry.create({
        role: str(req.role) as KeyRecord["role"],
        name: str(req.name),
        taskTypes: Array.isArray(req.taskTypes) ? req.taskTypes.map(str) : [],
        createdBy: by ? (by.id === "anonymous" ? "anonymous" : `key:${by.id}`) : "",
      });
    }),
    listKeys: unary<ListKeysRequest, ListKeysResponse>(async (req) => ({ keys: await registry.list({ includeRevoked: req.includeRevoked === true }) })),
    revokeKey: unary<RevokeKeyRequest, RevokeKeyResponse>(async (req) => {
      const id = str(req.id);
      if (!id) throw new RpcError(grpc.status.INVALID_ARGUMENT, "id is required");
      const revoked = await registry.revoke(id);
      onRevoked(id);
      return { revoked };
    }),
  };
}

/** Calls the key service over an open channel (what `baton keys` uses). */
export function callKeyService<Res>(
  channel: grpc.Client,
  method: keyof typeof METHODS,
  request: object,
  metadata: grpc.Metadata,
  deadlineMs = 30_000,
): Promise<Res> {
  return new Promise((resolve, reject) => {
    channel.makeUnaryRequest(
      `/${KEY_SERVICE}/${METHODS[method]}`,
      json.serialize,
      json.deserialize,
      request,
      metadata,
      { deadline: Date.now() + deadlineMs },
      (error, response) => (error ? reject(error) : resolve(response as Res)),
    );
  });
}
