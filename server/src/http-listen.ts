// How each of the server's HTTP ports (Conductor's REST API, the console, the
// metrics and health port) starts listening and stops: the bound address,
// and a close that ends open connections (long polls) at once.
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

export interface Listening {
  /** host:port (an IPv6 host in brackets). */
  address: string;
  port: number;
  close(): Promise<void>;
}

/** Listens on host:port (0: a free port); fails if the port cannot be bound. */
export async function listen(server: Server, host: string, port: number): Promise<Listening> {
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    address: `${host.includes(":") ? `[${host}]` : host}:${bound}`,
    port: bound,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
