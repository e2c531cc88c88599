// Maps engine refusals and bad input to gRPC statuses.
import { nestsDeeperThan, usesMoreKeyNamesThan } from "@baton/json";
import { grpc, RpcError } from "@baton/protocol";
import { Refusal } from "../decider/decider.js";
import { Overloaded } from "../runtime/engine.js";
import { isUuid } from "../rules/ids.js";
import { isConnectionError } from "../store/store.js";
import { checkJson, checkSize, MAX_JSON_DEPTH, MAX_JSON_KEY_NAMES, parsedPayload, PayloadRefusal, readPayload, tooDeep, tooManyNames } from "./json-checks.js";

export function toRpcError(error: unknown): unknown {
  if (error instanceof Refusal) return new RpcError(grpc.status[error.code], error.message);
  if (error instanceof Overloaded) {
    // gRPC's own retry hint, understood by clients with retry policies.
    const metadata = new grpc.Metadata();
    metadata.set("grpc-retry-pushback-ms", String(error.retryAfterMs));
    return new RpcError(grpc.status.RESOURCE_EXHAUSTED, `${error.message} (retry after ${error.retryAfterMs} ms)`, metadata);
  }
  if (isConnectionError(error)) return new RpcError(grpc.status.UNAVAILABLE, `the database is unavailable right now; retry: ${(error as Error).message}`);
  // PostgreSQL "data exception" (class 22): a value the database cannot hold,
  // e.g. a malformed id or a NUL byte. The caller's input, not our fault.
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && code.startsWith("22")) return invalid(`the request holds a value the store cannot take: ${(error as Error).message}`);
  return error;
}

/** Run and task ids are UUIDs: anything else names nothing. */
export function requireId(kind: "run" | "task", id: string): void {
  if (!id) throw invalid(`${kind === "run" ? "workflow_id" : "task_id"} is required`);
  if (!isUuid(id)) throw notFound(`no ${kind} ${JSON.stringify(id.slice(0, 64))}`);
}

export function invalid(message: string): RpcError {
  return new RpcError(grpc.status.INVALID_ARGUMENT, message);
}

export function notFound(message: string): RpcError {
  return new RpcError(grpc.status.NOT_FOUND, message);
}

/** Parses a JSON payload field, enforcing the payload size limit. */
export function parsePayload(field: string, text: string, limitBytes: number, kind: "object" | "any" = "object"): Record<string, unknown> {
  try {
    return readPayload(field, text, limitBytes, kind);
  } catch (error) {
    throw asInvalid(error);
  }
}

/** A payload's refusal (json-checks.ts) as INVALID_ARGUMENT. */
function asInvalid(error: unknown): unknown {
  return error instanceof PayloadRefusal ? invalid(error.message) : error;
}

/**
 * parsePayload for a field that may hold megabytes (a task's output, a run's
 * input): the scans, the parse and the check each take tens of ms at 2 MiB on
 * the serving thread, so a text of `largeChars` or more is read one step per
 * turn of the event loop, and one such text at a time (inLine).
 */
export async function parseLargePayload(field: string, text: string, limitBytes: number, largeChars: number): Promise<Record<string, unknown>> {
  if (text.length < largeChars) return parsePayload(field, text, limitBytes);
  return inLine(async () => {
    try {
      checkSize(field, text, limitBytes);
      if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw tooDeep(field);
      await nextTurn();
      if (usesMoreKeyNamesThan(text, MAX_JSON_KEY_NAMES)) throw tooManyNames(field);
      await nextTurn();
      const value = parsedPayload(field, text, limitBytes, "object", false);
      await nextTurn();
      checkJson(field, value, text);
      return value;
    } catch (error) {
      throw asInvalid(error);
    }
  });
}

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Large payloads read one at a time, each step in a turn of its own. Calls
 * that arrive together start together: 300 worker calls of 1 MB outputs each
 * did their first step in one turn of the event loop, then each its parse in
 * the next, and `/healthz` waited 5.8 s behind them. In a line, the serving
 * thread answers other calls between any two steps; the work is the same.
 */
let lastLargeRead: Promise<unknown> = Promise.resolve();
function inLine<T>(read: () => Promise<T>): Promise<T> {
  const turn = lastLargeRead.then(nextTurn).then(read);
  lastLargeRead = turn.catch(() => {});
  return turn;
}

/** A definition's or a schedule's text from this size on is parsed a step per turn, in line (inline starts: workflows.ts; schedules/service.ts). */
export const LARGE_STEP_BYTES = 256 * 1024;

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
