// Maps engine refusals and bad input to gRPC statuses.
import { grpc, parseJson, RpcError } from "@baton/protocol";
import { Refusal } from "../engine/decider.js";

export function toRpcError(error: unknown): unknown {
  if (error instanceof Refusal) return new RpcError(grpc.status[error.code], error.message);
  return error;
}

export function invalid(message: string): RpcError {
  return new RpcError(grpc.status.INVALID_ARGUMENT, message);
}

export function notFound(message: string): RpcError {
  return new RpcError(grpc.status.NOT_FOUND, message);
}

/** Parses a JSON payload field, enforcing the payload size limit. */
export function parsePayload(field: string, text: string, limitBytes: number, kind: "object" | "any" = "object"): Record<string, unknown> {
  if (text === "") return {};
  const size = Buffer.byteLength(text);
  if (size > limitBytes) throw invalid(`${field} is ${size} bytes; the limit is ${limitBytes} bytes`);
  let value: unknown;
  try {
    value = parseJson(text);
  } catch (error) {
    throw invalid(`${field} is not valid JSON: ${(error as Error).message}`);
  }
  if (kind === "object" && (value === null || typeof value !== "object" || Array.isArray(value))) {
    throw invalid(`${field} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

/** Wraps a handler so refusals become gRPC statuses. */
export function rpc<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    try {
      return await fn(...args);
    } catch (error) {
      throw toRpcError(error);
    }
  };
}
