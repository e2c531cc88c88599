// How the gRPC port listens. grpc-js has no limit on the connections it
// accepts, so Baton accepts them itself, puts them under the connection
// limits (connections.ts) and hands each to grpc-js, which does TLS (when
// its credentials say so), HTTP/2 and the calls as on a port it bound.
import dns from "node:dns/promises";
import net from "node:net";
import type * as grpc from "@grpc/grpc-js";
import type { Connections } from "./connections.js";

export interface GrpcListening {
  port: number;
  /** Stops accepting; grpc-js's shutdown ends the connections already handed to it. */
  close(): Promise<void>;
}

/** Listens on every address `host` resolves to (as grpc-js's bindAsync did), on one port (0: a free one). */
export async function listenGrpc(
  server: grpc.Server,
  credentials: grpc.ServerCredentials,
  host: string,
  port: number,
  connections: Connections,
): Promise<GrpcListening> {
  const injector = server.createConnectionInjector(credentials);
  const addresses = await dns.lookup(host.replace(/^\[(.*)\]$/, "$1"), { all: true });
  const sockets: net.Server[] = [];
  const close = () => Promise.all(sockets.map((s) => new Promise<void>((resolve) => s.close(() => resolve())))).then(() => undefined);
  try {
    for (const { address } of addresses) {
      const socketServer = net.createServer();
      connections.guard(socketServer, "grpc");
      socketServer.on("connection", (socket: net.Socket) => {
        if (!socket.destroyed) injector.injectConnection(socket);
      });
      await new Promise<void>((resolve, reject) => {
        socketServer.once("error", reject);
        socketServer.listen(port, address, () => {
          socketServer.off("error", reject);
          resolve();
        });
      });
      sockets.push(socketServer);
      // Every address listens on the port the first one got.
      port = (socketServer.address() as net.AddressInfo).port;
    }
  } catch (error) {
    await close();
    throw error;
  }
  return { port, close };
}
