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
// A caller may also begin messages and never finish them: their room would
// stay held until their streams closed. So one connection's requests hold at
// most a share of the budget; a message begun must arrive whole within a
// deadline, or its call is ended and its room freed; and when a request finds
// no room, the calls of messages begun long ago and still unfinished are
// ended first, the oldest first, to make room for it.
import type { IncomingHttpHeaders } from "node:http";
import { Counter, type Registry } from "prom-client";
import { everyTick, type Clock } from "./clock.js";
import { readGauge } from "./observability/read-gauge.js";

const MiB = 1024 * 1024;

export interface RequestBudget {
  /** Bytes of requests in hand across the server. */
  totalBytes: number;
  /** What one connection's requests may hold of it. */
  connectionBytes: number;
  /** How long a message begun may take to arrive whole before its call is ended (server's clock). */
  arrivalMs: number;
  /** When a request finds no room: how long a message may have been arriving before its call is ended to make room. */
  stalledMs: number;
}

/**
 * The default budget: 64 MiB in hand is seconds of handling on a busy server
 * (300 requests of 1 MB took 35 s to answer), so a larger one adds waiting,
 * not throughput, while costing about four times its size in memory. A
 * connection may hold a quarter; a message of the 5 MiB receive limit
 * arrives whole in 60 s at 90 KB/s.
 */
export const DEFAULT_REQUEST_BUDGET: RequestBudget = { totalBytes: 64 * MiB, connectionBytes: 16 * MiB, arrivalMs: 60_000, stalledMs: 5_000 };

/** The budget a server runs with: `options` over the default; a connection's share is a quarter of the budget unless given. */
export function requestBudgetOf(options: Partial<RequestBudget> = {}): RequestBudget {
  const totalBytes = options.totalBytes ?? DEFAULT_REQUEST_BUDGET.totalBytes;
  const budget = { ...DEFAULT_REQUEST_BUDGET, connectionBytes: Math.floor(totalBytes / 4), ...options, totalBytes };
  for (const [name, value] of Object.entries(budget))
    if (!Number.isSafeInteger(value) || value <= 0) throw new Error(`requestBudget.${name} must be a positive whole number, not ${String(value)}`);
  return budget;
}

/** Requests below this size may use an eighth more than the budget and a connection's share: ordinary calls keep flowing while large ones fill it. */
export const SMALL_REQUEST_BYTES = 64 * 1024;

/** The port a request came on, for the refusal count. */
export type RequestPort = "grpc" | "console" | "rest";

/** The call a request belongs to. */
export interface RequestCall {
  /** The connection it came on, its socket or HTTP/2 session (requests of one connection share a part of the budget). */
  readonly connection: object;
  /** Ends the call, its message unfinished: its caller reads `message`. Its room is already released. */
  end(message: string): void;
  /** Whether the server is reading its bytes now (a stream grpc-js paused until its handler asks for the next message holds the rest back). */
  reading(): boolean;
}

/** A request's room, held until `release` (idempotent, as is `arrived`). */
export interface Room {
  /** Its message arrived whole: the deadline no longer applies. */
  arrived(): void;
  release(): void;
}

/** A message not yet whole, in a list oldest first (no hashing: most messages are whole within the chunk that began them). */
interface Arriving {
  readonly call: RequestCall;
  readonly bytes: number;
  readonly since: number;
  readonly room: Room;
  prev: Arriving | undefined;
  next: Arriving | undefined;
}

const mib = (bytes: number) => `${(bytes / MiB).toFixed(1)} MiB`;
const seconds = (ms: number) => `${Math.round(ms / 1000)} s`;

export class RequestBytes {
  private held = 0;
  /** What each connection holds (kept at 0 while it lives: no churn of a table for a connection with one call at a time). */
  private readonly byConnection = new WeakMap<object, { bytes: number }>();
  private oldest: Arriving | undefined;
  private newest: Arriving | undefined;
  private readonly refused: Counter<"port">;
  private readonly ended: Counter<"reason">;

  constructor(
    readonly budget: RequestBudget,
    private readonly clock: Clock,
    registry: Registry,
  ) {
    readGauge(registry, "baton_request_bytes_in_hand", "Bytes of requests being read or served, across the gRPC, console and REST ports", () => this.held);
    readGauge(registry, "baton_request_bytes_budget_bytes", "The most bytes of requests the server holds at once", () => budget.totalBytes);
    this.refused = new Counter({
      name: "baton_requests_refused_total",
      help: "Requests refused unread for lack of room in the budget of request bytes (RESOURCE_EXHAUSTED; console and REST: 429)",
      labelNames: ["port"],
      registers: [registry],
    });
    this.ended = new Counter({
      name: "baton_unfinished_requests_ended_total",
      help: "Calls ended because their message did not arrive whole: deadline (past the arrival deadline), stalled (arriving for a while when another request found no room)",
      labelNames: ["reason"],
      registers: [registry],
    });
  }

  /** Bytes in hand now. */
  get heldBytes(): number {
    return this.held;
  }

  /**
   * Takes room for a request of `bytes` from `call` until the room it gives
   * is released; undefined (the request is refused, and counted so) when the
   * budget or the call's connection's share has none, once the calls of
   * stalled messages of other connections are ended. A small request may
   * use an eighth more of each; one larger than the budget or a share is
   * taken when nothing else is held. `anyBudget`: a stream's small message
   * (Dispatch's credits), held to its connection's share alone.
   */
  take(bytes: number, port: RequestPort, call: RequestCall, anyBudget = false): Room | undefined {
    if (!this.fits(call.connection, bytes, anyBudget)) {
      this.endStalled(bytes, call.connection);
      if (!this.fits(call.connection, bytes, anyBudget)) {
        this.refused.inc({ port });
        return undefined;
      }
    }
    let holding = this.byConnection.get(call.connection);
    if (!holding) this.byConnection.set(call.connection, (holding = { bytes: 0 }));
    const mine = holding;
    mine.bytes += bytes;
    this.held += bytes;
    let released = false;
    const room: Room = {
      arrived: () => this.unlink(arriving),
      release: () => {
        if (released) return;
        released = true;
        this.unlink(arriving);
        this.held -= bytes;
        mine.bytes -= bytes;
      },
    };
    const arriving: Arriving = { call, bytes, since: this.clock.now(), room, prev: undefined, next: undefined };
    if (bytes === 0) return room;
    arriving.prev = this.newest;
    if (this.newest) this.newest.next = arriving;
    else this.oldest = arriving;
    this.newest = arriving;
    return room;
  }

  /** Ends the calls whose message has been arriving past the deadline. Runs every second and when a test's clock jumps. */
  sweep(): void {
    const before = this.clock.now() - this.budget.arrivalMs;
    for (let arriving = this.oldest; arriving && arriving.since <= before;) {
      // A call has one message arriving at a time: ending it unlinks no other.
      const next = arriving.next;
      if (arriving.call.reading()) this.end(arriving, "deadline", `the server gives a message ${seconds(this.budget.arrivalMs)} to arrive whole once begun`);
      arriving = next;
    }
  }

  /** Sweeps every second and whenever the clock jumps; returns the function that stops. */
  watch(): () => void {
    return everyTick(this.clock, 1000, () => this.sweep());
  }

  /** What a refused request's caller reads: what is held, and what to do. */
  refusal(bytes: number): string {
    return (
      `the server holds ${mib(this.held)} of requests being read or served (its budget: ${mib(this.budget.totalBytes)}, ` +
      `${mib(this.budget.connectionBytes)} a connection), and this request of ${mib(bytes)} does not fit: it was not read, and nothing changed. ` +
      `Retry in a few seconds, send smaller payloads, or have an operator raise BATON_REQUEST_BYTES`
    );
  }

  /** Ends the calls of messages of other connections arriving for `stalledMs`, the oldest first, until `bytes` more fit. */
  private endStalled(bytes: number, asking: object): void {
    // Room made elsewhere would not let in a request whose own connection holds its share.
    if ((this.byConnection.get(asking)?.bytes ?? 0) + bytes > this.budget.connectionBytes * (bytes < SMALL_REQUEST_BYTES ? 1.125 : 1)) return;
    const before = this.clock.now() - this.budget.stalledMs;
    for (let arriving = this.oldest; arriving && arriving.since <= before && !this.fits(asking, bytes, false);) {
      const next = arriving.next;
      if (arriving.call.connection !== asking && arriving.call.reading())
        this.end(arriving, "stalled", `it has been arriving for ${seconds(this.budget.stalledMs)} while another request needed room`);
      arriving = next;
    }
  }

  /** Takes a message off the list of those arriving (once whole, or released). */
  private unlink(arriving: Arriving): void {
    if (arriving.prev) arriving.prev.next = arriving.next;
    else if (this.oldest === arriving) this.oldest = arriving.next;
    else return; // not in the list
    if (arriving.next) arriving.next.prev = arriving.prev;
    else this.newest = arriving.prev;
    arriving.prev = arriving.next = undefined;
  }

  private end(arriving: Arriving, reason: "deadline" | "stalled", why: string): void {
    this.ended.inc({ reason });
    arriving.room.release();
    arriving.call.end(
      `this call's message of ${mib(arriving.bytes)} did not arrive whole, and ${why}: the call is ended unread, and nothing changed. ` +
        `Send each message whole promptly and retry (an operator sets the deadline with BATON_REQUEST_ARRIVAL_SECONDS)`,
    );
  }

  private fits(connection: object, bytes: number, anyBudget: boolean): boolean {
    const mine = this.byConnection.get(connection)?.bytes ?? 0;
    const room = bytes < SMALL_REQUEST_BYTES ? 1.125 : 1;
    return (
      (mine === 0 || mine + bytes <= this.budget.connectionBytes * room) && (anyBudget || this.held === 0 || this.held + bytes <= this.budget.totalBytes * room)
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
