// How much a caller may send before the server acknowledges it: HTTP/2's
// receive windows on the gRPC port. grpc-js's server keeps Node's default of
// 64 KiB, for each call and for the whole connection, and has no option to
// raise it (its client does: grpc-node.flow_control_window; the server's is
// grpc/grpc-node pull request 3058, open). A call's message is gathered
// whole before it is handled either way (up to the size limit), so a narrow
// window bounds no memory that matters: it only makes the sender wait for a
// WINDOW_UPDATE, which goes out on a turn of the serving thread's event loop. A 2 MiB request therefore took 32 turns or more, and every other call
// on its connection shared the same 64 KiB; while the thread was busy (the
// hostile bench) a 2 MiB UpdateTask was answered after 11-15 s, with these
// windows after 1.5 s.
import type * as grpc from "@grpc/grpc-js";
import type { Http2Session } from "node:http2";
import type { Logger } from "./logger.js";

/** Each call's window: a request up to the payload limit (2 MiB) and its framing goes out at once. */
export const CALL_WINDOW_BYTES = 4 * 1024 * 1024;
/** The connection's window, shared by its calls: room for one such request with small calls beside it. */
export const CONNECTION_WINDOW_BYTES = 2 * CALL_WINDOW_BYTES;

/** grpc-js's own field holding the HTTP/2 servers it listens with (not public API). */
interface WithHttp2Servers {
  http2Servers?: Map<{ on(event: "session", listener: (session: Http2Session) => void): unknown }, unknown>;
}

/**
 * Widens the receive windows of every connection `server` accepts from now on.
 * Call it once the server is bound. Reaches into grpc-js's internals: if
 * they change, this warns and the windows stay at 64 KiB (the test
 * test/core/receive-windows.test.ts fails).
 */
export function widenReceiveWindows(server: grpc.Server, log: Pick<Logger, "warn">): void {
  const servers = (server as unknown as WithHttp2Servers).http2Servers;
  if (!(servers instanceof Map) || servers.size === 0) {
    log.warn("cannot widen the gRPC port's HTTP/2 receive windows (grpc-js's internals changed): large requests wait on 64 KiB windows");
    return;
  }
  for (const http2Server of servers.keys()) {
    http2Server.on("session", (session) => {
      // Thrown here it would end the process: a session a client closed at once keeps the narrow windows instead.
      try {
        if (session.destroyed) return;
        session.settings({ initialWindowSize: CALL_WINDOW_BYTES });
        session.setLocalWindowSize(CONNECTION_WINDOW_BYTES);
      } catch (error) {
        log.warn({ err: error }, "could not widen a connection's HTTP/2 receive windows");
      }
    });
  }
}
