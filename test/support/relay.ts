// A TCP relay to a server that a test can stop reading from: a worker that
// does not read what it was sent, down to the socket.
import net from "node:net";

/**
 * A TCP relay to the server that can stop reading what the server sends: a
 * worker that does not read, down to the socket (a gRPC client reads every
 * message into its own memory whatever the application does).
 */
export async function relay(target: string): Promise<{ address: string; connections(): number; stall(): void; resume(): void; close(): void }> {
  const [host, port] = [target.slice(0, target.lastIndexOf(":")), Number(target.slice(target.lastIndexOf(":") + 1))];
  const pairs: { client: net.Socket; server: net.Socket }[] = [];
  // Connections made while stalled start stalled.
  let stalled = false;
  const listener = net.createServer((client) => {
    const server = net.connect(port, host);
    client.pipe(server);
    if (stalled) server.pause();
    else server.pipe(client);
    pairs.push({ client, server });
  });
  await new Promise<void>((resolve) => listener.listen(0, "127.0.0.1", resolve));
  return {
    address: `127.0.0.1:${(listener.address() as net.AddressInfo).port}`,
    connections: () => pairs.length,
    stall: () => {
      stalled = true;
      pairs.forEach(({ client, server }) => (server.unpipe(client), server.pause()));
    },
    resume: () => {
      stalled = false;
      pairs.forEach(({ client, server }) => server.pipe(client));
    },
    close: () => {
      pairs.forEach(({ client, server }) => (client.destroy(), server.destroy()));
      listener.close();
    },
  };
}
