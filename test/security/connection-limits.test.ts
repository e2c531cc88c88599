// A caller cannot hold connections without bound (issue 14). Connections are
// accepted before any call checks a key, so one caller (with a key or none)
// could open them until the server ran out of file descriptors. Each port
// now holds at most BATON_MAX_CONNECTIONS, one address at most
// BATON_MAX_CONNECTIONS_PER_ADDRESS of them, and a connection over either is
// closed as it is accepted. Real sockets from two loopback addresses.
import assert from "node:assert/strict";
import net from "node:net";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { createLogger, serverOptionsFromEnv } from "@baton/server";
import { eventually, startHarness, type Harness } from "../support/harness.js";

const LIMITS = { maxConnections: 6, maxPerAddress: 4, idleMs: 60_000, firstRequestMs: 3000 };

let h: Harness;
const logLines: Record<string, unknown>[] = [];
const open: net.Socket[] = [];

before(async () => {
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString().split("\n")) if (line) logLines.push(JSON.parse(line) as Record<string, unknown>);
      done();
    },
  });
  h = await startHarness({ server: { connections: LIMITS, conductor: { port: 0 }, console: { port: 0 }, logger: createLogger("warn", sink) } });
});
after(async () => {
  for (const socket of open) socket.destroy();
  await h.close();
});

async function metric(name: string, labels: Record<string, string>): Promise<number> {
  const values = (await h.server.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  return values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value))?.value ?? 0;
}

/**
 * A TCP connection to `address` from `from`, held open; settles "open" once
 * it has been open a while (a gRPC port sends its HTTP/2 settings at once),
 * "closed" when the server closed it first.
 */
function connect(address: string, from: string): Promise<"open" | "closed"> {
  const port = Number(address.slice(address.lastIndexOf(":") + 1));
  return new Promise((resolve) => {
    const socket = net.connect({ host: "127.0.0.1", port, localAddress: from });
    open.push(socket);
    socket.on("error", () => {});
    socket.resume();
    socket.once("close", () => resolve("closed"));
    socket.once("connect", () => setTimeout(() => resolve(socket.destroyed ? "closed" : "open"), 200));
  });
}

/** Closes every connection this test holds and waits until the server counts none on `port`. */
async function release(port: string) {
  for (const socket of open.splice(0)) socket.destroy();
  await eventually(
    () => metric("baton_open_connections", { port }),
    (n) => n === 0,
  );
}

describe("connections a port holds", () => {
  it("gRPC: one address holds at most its limit, the port at most its own; beyond, a connection is closed at once and the log says which address", async () => {
    const results: string[] = [];
    for (let i = 0; i < 4; i++) results.push(await connect(h.server.address, "127.0.0.1"));
    assert.deepEqual(results, ["open", "open", "open", "open"]);
    assert.equal(await connect(h.server.address, "127.0.0.1"), "closed", "a fifth connection from one address is closed");
    assert.equal(await metric("baton_connections_refused_total", { port: "grpc", reason: "address" }), 1);
    // Another address fills the port; then nobody gets in.
    assert.equal(await connect(h.server.address, "127.0.0.2"), "open");
    assert.equal(await connect(h.server.address, "127.0.0.2"), "open");
    assert.equal(await connect(h.server.address, "127.0.0.3"), "closed", "a seventh connection on the port is closed");
    assert.equal(await metric("baton_connections_refused_total", { port: "grpc", reason: "port" }), 1);
    assert.equal(await metric("baton_open_connections", { port: "grpc" }), 6);
    const warning = logLines.find((l) => l["reason"] === "address");
    assert.ok(warning, "the log says a connection was closed");
    assert.equal(warning["address"], "127.0.0.1");
    assert.match(String(warning["msg"]), /127\.0\.0\.1 holds its limit of 4 on the grpc port \(BATON_MAX_CONNECTIONS_PER_ADDRESS\)/);
    // A connection that closes makes room: a client is served.
    open.shift()!.destroy();
    await eventually(
      () => metric("baton_open_connections", { port: "grpc" }),
      (n) => n === 5,
    );
    const client = new BatonClient({ address: h.server.address });
    try {
      await client.tasks.listQueues({});
    } finally {
      client.close();
    }
    await release("grpc");
  });

  it("Conductor REST and the console: the same limits, and a connection that sends no request is closed", async () => {
    for (const [port, address] of [
      ["rest", h.server.conductorAddress!],
      ["console", h.server.consoleUrl!.replace("http://", "")],
    ] as const) {
      const results = await Promise.all(Array.from({ length: 4 }, () => connect(address, "127.0.0.1")));
      results.push(await connect(address, "127.0.0.1"));
      assert.deepEqual(results, ["open", "open", "open", "open", "closed"], port);
      assert.equal(await metric("baton_connections_refused_total", { port, reason: "address" }), 1, port);
      // Sending nothing, they are closed after firstRequestMs.
      await eventually(
        () => metric("baton_open_connections", { port }),
        (n) => n === 0,
      );
      await release(port);
      const answer = await fetch(`http://${address}/${port === "rest" ? "api/metadata/workflow" : ""}`);
      assert.ok(answer.status < 500, `${port} answers once its connections are gone`);
    }
  });

  it("BATON_MAX_CONNECTIONS and BATON_MAX_CONNECTIONS_PER_ADDRESS set them; bad values are refused, naming the variable", () => {
    assert.deepEqual(serverOptionsFromEnv({ BATON_MAX_CONNECTIONS: "2000", BATON_MAX_CONNECTIONS_PER_ADDRESS: "0" }).connections, {
      maxConnections: 2000,
      maxPerAddress: 0,
    });
    assert.equal(serverOptionsFromEnv({}).connections, undefined);
    for (const bad of ["0", "-1", "many", "1.5"])
      assert.throws(() => serverOptionsFromEnv({ BATON_MAX_CONNECTIONS: bad }), /BATON_MAX_CONNECTIONS must be a positive whole number/);
    for (const bad of ["-1", "some"])
      assert.throws(() => serverOptionsFromEnv({ BATON_MAX_CONNECTIONS_PER_ADDRESS: bad }), /BATON_MAX_CONNECTIONS_PER_ADDRESS must be a whole number/);
  });
});

describe("a gRPC connection with no call open", () => {
  it("is closed after idleMs; one with a call open is not, and a client's next call opens a new one", async () => {
    const idle = await startHarness({ manualClock: false, server: { connections: { idleMs: 300 } } });
    try {
      const port = Number(idle.server.address.slice(idle.server.address.lastIndexOf(":") + 1));
      const silent = net.connect({ host: "127.0.0.1", port });
      silent.on("error", () => {});
      silent.resume(); // a socket sees the server's close only once it has read what came before it
      await new Promise<void>((resolve, reject) => {
        const late = setTimeout(() => reject(new Error("a connection with no call stayed open 20 s")), 20_000);
        silent.once("close", () => (clearTimeout(late), resolve()));
      });
      // A long poll holds its connection past idleMs; the client's next call is served.
      const polled = await idle.client.tasks.poll({ taskType: "nothing_here", workerId: "w", count: 1, waitMs: 1500n });
      assert.equal(polled.tasks.length, 0);
      await new Promise((resolve) => setTimeout(resolve, 600));
      await idle.client.tasks.listQueues({});
    } finally {
      await idle.close();
    }
  });
});
