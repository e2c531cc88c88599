// The connections each port accepts. A connection costs a file descriptor
// and its buffers before any call on it is checked for a key, so a caller
// (with a key or without one) could open them until the process ran out of
// descriptors, and then the server could open nothing else (database
// connections included). Each port holds at most `maxConnections`; one
// remote address at most `maxPerAddress` of them; a connection over either
// is closed as it is accepted, and said in the log (at most every ten
// seconds a port).
import type http from "node:http";
import type net from "node:net";
import { Counter, Gauge, type Registry } from "prom-client";
import type { Clock } from "./clock.js";
import type { Logger } from "./logger.js";

export interface ConnectionLimits {
  /** Connections one port holds at once. */
  maxConnections: number;
  /** Connections one remote address holds on a port (0: only the port's limit). */
  maxPerAddress: number;
  /** How long a gRPC connection may go with no call open before it is closed (clients reconnect on their next call). */
  idleMs: number;
  /** How long an HTTP connection may stay open before its first request. */
  firstRequestMs: number;
}

/**
 * A port holds up to 10,000 connections, one address up to half of them: a
 * fleet of workers behind one NAT address or load balancer fits, and no
 * single address can take the whole port.
 */
export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = { maxConnections: 10_000, maxPerAddress: 5_000, idleMs: 300_000, firstRequestMs: 30_000 };

/** The limits a server runs with: `options` over the defaults; the per-address limit is half the port's unless given. */
export function connectionLimitsOf(options: Partial<ConnectionLimits> = {}): ConnectionLimits {
  const maxConnections = options.maxConnections ?? DEFAULT_CONNECTION_LIMITS.maxConnections;
  return { ...DEFAULT_CONNECTION_LIMITS, maxPerAddress: Math.ceil(maxConnections / 2), ...options, maxConnections };
}

/** How often a port says in the log that it closed connections over its limits. */
const LOG_EVERY_MS = 10_000;

/** IPv4 callers of a dual-stack port appear as ::ffff:a.b.c.d. */
const addressOf = (remote: string | undefined) => (remote ?? "unknown").replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/, "");

/** Counts and limits the connections of the server's ports. */
export class Connections {
  private readonly open: Gauge<"port">;
  private readonly refused: Counter<"port" | "reason">;

  constructor(
    readonly limits: ConnectionLimits,
    registry: Registry,
    private readonly clock: Clock,
    private readonly log: Pick<Logger, "warn">,
  ) {
    this.open = new Gauge({ name: "baton_open_connections", help: "Connections open on each port", labelNames: ["port"], registers: [registry] });
    this.refused = new Counter({
      name: "baton_connections_refused_total",
      help: "Connections closed as they were accepted: port (the port held its limit), address (their address held its limit)",
      labelNames: ["port", "reason"],
      registers: [registry],
    });
  }

  /**
   * Puts the connections `server` accepts under the limits, as `port`. Call
   * it before the server's own connection listeners are added (a gRPC port's
   * socket server) or on an HTTP server, whose listener comes later: a
   * connection over a limit is destroyed before they see it.
   */
  guard(server: net.Server, port: string): void {
    const { maxConnections, maxPerAddress } = this.limits;
    const byAddress = new Map<string, number>();
    let unlogged = 0;
    let loggedAt = -Infinity;
    const refuse = (address: string, reason: "port" | "address") => {
      this.refused.inc({ port, reason });
      unlogged++;
      const now = this.clock.now();
      if (now - loggedAt < LOG_EVERY_MS) return;
      this.log.warn(
        { port, address, reason, closed: unlogged, maxConnections, maxPerAddress },
        reason === "port"
          ? `closed connections as they came: the ${port} port holds its limit of ${maxConnections} (BATON_MAX_CONNECTIONS)`
          : `closed connections as they came: ${address} holds its limit of ${maxPerAddress} on the ${port} port (BATON_MAX_CONNECTIONS_PER_ADDRESS)`,
      );
      loggedAt = now;
      unlogged = 0;
    };
    // Node closes a connection over maxConnections before making a socket of it.
    server.maxConnections = maxConnections;
    server.on("drop", (data?: { remoteAddress?: string }) => refuse(addressOf(data?.remoteAddress), "port"));
    this.open.inc({ port }, 0);
    server.prependListener("connection", (socket: net.Socket) => {
      const address = addressOf(socket.remoteAddress);
      const held = byAddress.get(address) ?? 0;
      if (maxPerAddress > 0 && held >= maxPerAddress) {
        socket.destroy();
        refuse(address, "address");
        return;
      }
      byAddress.set(address, held + 1);
      this.open.inc({ port });
      socket.once("close", () => {
        this.open.dec({ port });
        const left = (byAddress.get(address) ?? 1) - 1;
        if (left > 0) byAddress.set(address, left);
        else byAddress.delete(address);
      });
    });
  }

  /** `guard` for an HTTP port, which also closes a connection that sends no request within `firstRequestMs`. */
  guardHttp(server: http.Server, port: string): void {
    this.guard(server, port);
    // A request's head within the same time, its body (up to the port's limit) within two minutes.
    server.headersTimeout = this.limits.firstRequestMs;
    server.requestTimeout = 120_000;
    // Node's headersTimeout applies once a request has begun: a connection that sends nothing stayed open. An HTTP
    // server destroys a socket that times out; the first request lifts this (keep-alive's own timeout follows).
    server.on("connection", (socket: net.Socket) => {
      if (!socket.destroyed) socket.setTimeout(this.limits.firstRequestMs);
    });
    server.on("request", (req) => {
      req.socket.setTimeout(0);
    });
  }
}
