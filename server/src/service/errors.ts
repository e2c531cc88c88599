// Maps engine refusals and bad input to gRPC statuses.
import { nestsDeeperThan, usesMoreKeyNamesThan } from "@baton/json";
import { grpc, parseJson, RpcError } from "@baton/protocol";
import { Refusal } from "../decider/decider.js";
import { knownJsonBytes } from "../payload-text.js";
import { Overloaded } from "../runtime/engine.js";
import { isUuid } from "../rules/ids.js";
import { isConnectionError } from "../store/store.js";

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

/** How deep JSON payloads and definitions may nest. */
export const MAX_JSON_DEPTH = 100;
/** A request body (REST, the console's Connect JSON) wraps its payloads in a few levels of its own. */
export const MAX_BODY_DEPTH = MAX_JSON_DEPTH + 10;
/** The refusal of a body nested deeper than MAX_BODY_DEPTH. */
export const BODY_TOO_DEEP = `the request body nests deeper than ${MAX_BODY_DEPTH} levels (payloads and definitions may nest ${MAX_JSON_DEPTH})`;
/**
 * How many distinct key names the objects of one payload, definition or
 * request body may use: V8 makes a hidden class for each new name, so a
 * worker's 2 MiB output of objects under fresh names held the serving thread
 * 1-3 s in its parse, against tens of milliseconds for the same bytes under
 * repeated names.
 */
export const MAX_JSON_KEY_NAMES = 10_000;
const KEYED_BY_NAME = 'each new name costs the server\'s parser: key such items in a list (e.g. [{"id": …}]) rather than by name';
/** The refusal of a body whose objects use more than MAX_JSON_KEY_NAMES names. */
export const BODY_TOO_MANY_NAMES = `the request body's objects use more than ${MAX_JSON_KEY_NAMES} distinct key names (${KEYED_BY_NAME})`;

/**
 * Refuses JSON nested deeper than MAX_JSON_DEPTH or holding a NUL character
 * (PostgreSQL's jsonb cannot). Iterative: no stack to overflow. `text`: the
 * value's JSON text, when there is one: JSON can write a NUL only as the
 * escape \u0000, so a text without one holds none, and then only containers
 * are walked (at 2 MiB a walk of every value took as long as the parse).
 */
export function checkJson(field: string, value: unknown, text?: string): void {
  const nulPossible = text === undefined || text.includes("\\u0000");
  const values: unknown[] = [value];
  const depths: number[] = [1];
  while (values.length > 0) {
    const v = values.pop();
    const depth = depths.pop()!;
    if (typeof v === "string") {
      if (v.includes("\u0000")) throw invalid(`${field} holds a NUL character, which cannot be stored`);
      continue;
    }
    if (v === null || typeof v !== "object") continue;
    if (depth > MAX_JSON_DEPTH) throw tooDeep(field);
    const keys = Object.keys(v);
    for (const key of keys) {
      if (nulPossible && key.includes("\u0000")) throw invalid(`${field} holds a NUL character, which cannot be stored`);
      const item = (v as Record<string, unknown>)[key];
      if ((item !== null && typeof item === "object") || (nulPossible && typeof item === "string")) {
        values.push(item);
        depths.push(depth + 1);
      }
    }
  }
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

/**
 * Parses a JSON payload field, enforcing the payload size limit. `parsed`: the
 * text's value when the caller has it already (a REST body parsed whole, whose
 * part was written out as this text): checked, not parsed again.
 */
export function parsePayload(field: string, text: string, limitBytes: number, kind: "object" | "any" = "object", parsed?: unknown): Record<string, unknown> {
  const value = parsedPayload(field, text, limitBytes, kind, parsed);
  checkJson(field, value, text);
  return value;
}

/**
 * parsePayload for a field that may hold megabytes (a task's output): the
 * scans, the parse and the check each take tens of ms at 2 MiB on the serving
 * thread, so a text of `largeChars` or more is read one step per turn of the
 * event loop, and one such text at a time (inLine).
 */
export async function parseLargePayload(
  field: string,
  text: string,
  limitBytes: number,
  largeChars: number,
  parsed?: unknown,
): Promise<Record<string, unknown>> {
  if (text.length < largeChars || parsed !== undefined) return parsePayload(field, text, limitBytes, "object", parsed);
  return inLine(async () => {
    checkSize(field, text, limitBytes);
    if (nestsDeeperThan(text, MAX_JSON_DEPTH)) throw tooDeep(field);
    await nextTurn();
    if (usesMoreKeyNamesThan(text, MAX_JSON_KEY_NAMES)) throw tooManyNames(field);
    await nextTurn();
    const value = parsedPayload(field, text, limitBytes, "object", undefined, false);
    await nextTurn();
    checkJson(field, value, text);
    return value;
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

/** A payload from this size on (its text's, payload-text.ts) has its serving-thread steps taken in line. */
export const LARGE_STEP_BYTES = 256 * 1024;

/**
 * `step`, serving-thread work on `payload` (a definition's checks): for a
 * payload that came as a large text, in a turn of its own, in line with the
 * other large steps. Four 4 MiB publishes at once otherwise ran their
 * checks in the same turns, and `/healthz` waited seconds behind them.
 */
export function stepOn<T>(payload: object, step: () => T): Promise<T> {
  return (knownJsonBytes(payload) ?? 0) >= LARGE_STEP_BYTES ? inLine(async () => step()) : Promise.resolve().then(step);
}

function checkSize(field: string, text: string, limitBytes: number): void {
  const size = Buffer.byteLength(text);
  if (size > limitBytes) throw invalid(`${field} is ${size} bytes; the limit is ${limitBytes} bytes`);
}

function tooDeep(field: string): RpcError {
  return invalid(`${field} nests deeper than ${MAX_JSON_DEPTH} levels`);
}

function tooManyNames(field: string): RpcError {
  return invalid(`${field}'s objects use more than ${MAX_JSON_KEY_NAMES} distinct key names (${KEYED_BY_NAME})`);
}

/**
 * The field's value, measured and parsed, of the kind asked for; not yet checked. `scan`: its depth is read from the
 * text first (parsing nested lists costs about a microsecond a level: a 2 MiB output of them held the serving thread
 * 1-2.5 s only to be refused).
 */
function parsedPayload(field: string, text: string, limitBytes: number, kind: "object" | "any", parsed: unknown, scan = true): Record<string, unknown> {
  if (text === "") return {};
  checkSize(field, text, limitBytes);
  let value = parsed;
  if (value === undefined) {
    if (scan && nestsDeeperThan(text, MAX_JSON_DEPTH)) throw tooDeep(field);
    if (scan && usesMoreKeyNamesThan(text, MAX_JSON_KEY_NAMES)) throw tooManyNames(field);
    try {
      value = parseJson(text);
    } catch (error) {
      throw invalid(`${field} is not valid JSON: ${(error as Error).message}`);
    }
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
