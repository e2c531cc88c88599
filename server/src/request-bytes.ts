// A server-wide budget of request bytes in hand. Every port gathers a
// request whole before it is handled, and a request in hand costs several
// times its size (its bytes, its decoded message, its parsed payload): 300
// worker calls of 1 MB at once on the gRPC port took the server from 184 to
// 1,100 MB, and 300 streams each sent 1 MB less one byte held 284 MB with
// nothing handled. So a request takes room from the moment its size is known
// (its length prefix on gRPC, its declared length over HTTP) until its call
// ends, and with no room it is refused at once, before its bytes are read:
// nothing it asks for happens, and its caller is told what to do. The gRPC
// port (grpc-requests.ts), the console's port and Conductor's REST port share
// the one budget: the memory is one.
import type { IncomingHttpHeaders } from "node:http";
import { Counter, type Registry } from "prom-client";
import { readGauge } from "./observability/read-gauge.js";

const MiB = 1024 * 1024;

/**
 * The default budget: 64 MiB in hand is seconds of handling on a busy server
 * (300 requests of 1 MB took 35 s to answer), so a larger one adds waiting,
 * not throughput, while costing about four times its size in memory.
 */
export const DEFAULT_REQUEST_BYTES = 64 * MiB;

/** Requests below this size may use an eighth more than the budget: ordinary calls keep flowing while large ones fill it. */
export const SMALL_REQUEST_BYTES = 64 * 1024;

/** The port a request came on, for the refusal count. */
export type RequestPort = "grpc" | "console" | "rest";

/** Gives back a request's room (idempotent). */
export type Release = () => void;

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;

export class RequestBytes {
  private held = 0;
  private readonly refused: Counter<"port">;

  constructor(
    readonly totalBytes: number,
    registry: Registry,
  ) {
    readGauge(registry, "baton_request_bytes_in_hand", "Bytes of requests being read or served, across the gRPC, console and REST ports", () => this.held);
    readGauge(registry, "baton_request_bytes_budget_bytes", "The most bytes of requests the server holds at once", () => totalBytes);
    this.refused = new Counter({
      name: "baton_requests_refused_total",
      help: "Requests refused unread for lack of room in the budget of request bytes (RESOURCE_EXHAUSTED; console and REST: 429)",
      labelNames: ["port"],
      registers: [registry],
    });
  }

  /** Bytes in hand now. */
  get heldBytes(): number {
    return this.held;
  }

  /**
   * Takes room for a request of `bytes` until the release it gives is called;
   * undefined (the request is refused, and counted so) when the budget has
   * none. A small request may use an eighth more; one larger than the budget
   * is taken when nothing else is held.
   */
  take(bytes: number, port: RequestPort): Release | undefined {
    const room = bytes < SMALL_REQUEST_BYTES ? 1.125 : 1;
    if (this.held > 0 && this.held + bytes > this.totalBytes * room) {
      this.refused.inc({ port });
      return undefined;
    }
    return this.count(bytes);
  }

  /** Counts bytes that are never refused (a stream's small messages, such as Dispatch's credits). */
  count(bytes: number): Release {
    this.held += bytes;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.held -= bytes;
    };
  }

  /** What a refused request's caller reads: what is held, and what to do. */
  refusal(bytes: number): string {
    return (
      `the server holds ${mib(this.held)} of requests being read or served (its budget: ${mib(this.totalBytes)}), ` +
      `and this request of ${mib(bytes)} does not fit: it was not read, and nothing changed. Retry in a few seconds, ` +
      `send smaller payloads, or have an operator raise BATON_REQUEST_BYTES`
    );
  }
}

/** The bytes an HTTP request's body may hold: its declared length, the most a body may be when it declares none or is sent in chunks. */
export function declaredBodyBytes(headers: IncomingHttpHeaders, most: number): number {
  if (headers["transfer-encoding"]) return most;
  const length = Number(headers["content-length"] ?? 0);
  return Number.isSafeInteger(length) && length >= 0 ? Math.min(length, most) : most;
}

/** BATON_REQUEST_BYTES's value, checked: a whole number of bytes, at least 1 MiB. */
export function requestBytesSetting(text: string): number {
  if (!/^[1-9]\d*$/.test(text) || Number(text) < MiB)
    throw new Error(`BATON_REQUEST_BYTES must be a whole number of bytes, at least 1048576 (1 MiB), not "${text}"`);
  return Number(text);
}
