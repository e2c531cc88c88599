// Conductor's error body ({status, message, instance, retryable,
// validationErrors}) and the HTTP status for each refusal the services make.
import { hostname } from "node:os";
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

export function errorBody(error: HttpError): Record<string, unknown> {
  return {
    status: error.status,
    message: error.message,
    instance: INSTANCE,
    retryable: error.retryable,
    ...(error.validationErrors.length > 0 ? { validationErrors: error.validationErrors } : {}),
  };
}
