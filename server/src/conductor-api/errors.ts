// Conductor's error body ({status, message, instance, retryable,
// validationErrors}) and the HTTP status for each refusal the services make.
import { hostname } from "node:os";
import { abridged, QUOTE_CHARS, quoted, shortened } from "@baton/json";
import { grpc, RpcError } from "@baton/protocol";
import { toRpcError } from "../service/errors.js";

export interface ValidationError {
  path: string;
  message: string;
  invalidValue?: unknown;
}

/** A refusal with its HTTP status, answered as Conductor's ErrorResponse. */
export class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly validationErrors: ValidationError[] = [],
    readonly retryable = false,
    /** Sent as Retry-After. */
    readonly retryAfterSeconds?: number,
  ) {
    super(message);
  }
}

export const badRequest = (message: string, validationErrors: ValidationError[] = []) => new HttpError(400, message, validationErrors);
export const notFound = (message: string) => new HttpError(404, message);

const STATUS_OF: Partial<Record<grpc.status, number>> = {
  [grpc.status.INVALID_ARGUMENT]: 400,
  [grpc.status.OUT_OF_RANGE]: 400,
  [grpc.status.UNAUTHENTICATED]: 401,
  [grpc.status.PERMISSION_DENIED]: 403,
  [grpc.status.NOT_FOUND]: 404,
  [grpc.status.ALREADY_EXISTS]: 409,
  [grpc.status.FAILED_PRECONDITION]: 409,
  [grpc.status.ABORTED]: 409,
  [grpc.status.RESOURCE_EXHAUSTED]: 429,
  [grpc.status.UNIMPLEMENTED]: 501,
  [grpc.status.UNAVAILABLE]: 503,
  [grpc.status.DEADLINE_EXCEEDED]: 504,
};

/** Any error from a service call, as an HttpError (unexpected ones become 500). */
export function toHttpError(error: unknown): HttpError {
  if (error instanceof HttpError) return error;
  const rpc = toRpcError(error);
  if (rpc instanceof RpcError) {
    const status = STATUS_OF[rpc.code] ?? 500;
    return new HttpError(status, rpc.message, [], status === 429 || status === 503);
  }
  return new HttpError(500, error instanceof Error ? error.message : String(error));
}

const INSTANCE = hostname();

/** The most validationErrors a body lists. */
const MAX_VALIDATION_ERRORS = 20;

/** The body as Conductor writes it; what quotes the request (the message, each invalidValue) is shortened, as a gRPC status is. */
export function errorBody(error: HttpError): Record<string, unknown> {
  const listed = error.validationErrors.slice(0, MAX_VALIDATION_ERRORS).map((v) => ({
    ...v,
    message: abridged(v.message),
    ...("invalidValue" in v ? { invalidValue: shortValue(v.invalidValue) } : {}),
  }));
  return {
    status: error.status,
    message: abridged(error.message),
    instance: INSTANCE,
    retryable: error.retryable,
    ...(listed.length > 0 ? { validationErrors: listed } : {}),
  };
}

/** A value as sent when short, else its start as quoted text. */
function shortValue(value: unknown): unknown {
  if (value === null || typeof value === "number" || typeof value === "boolean") return value;
  if (typeof value === "string") return value.length <= QUOTE_CHARS ? value : shortened(value);
  const text = quoted(value);
  return text.length <= QUOTE_CHARS ? value : text;
}
