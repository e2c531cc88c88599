// A large request reaches the server in a few turns of its event loop, not
// one turn per 64 KiB (server/src/receive-windows.ts): HTTP/2 lets a caller
// send only as much as the server's receive window before it acknowledges,
// and each acknowledgement waits for a turn of the serving thread. While that
// thread was busy, a 2 MiB UpdateTask took seconds to arrive.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { startHarness, type Harness } from "../support/harness.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

/** The payload limit (2 MiB) and the message's framing. */
const LARGE_REQUEST_BYTES = 2 * 1024 * 1024 + 1024;

describe("the gRPC port's receive windows", () => {
  it("let a caller send a request up to the payload limit without waiting for an acknowledgement", async () => {
    const session = http2.connect(`http://${h.server.address}`);
    try {
      // The server widens them right after its first settings (a second SETTINGS frame and a WINDOW_UPDATE): wait for those.
      const widened = () =>
        (session.remoteSettings.initialWindowSize ?? 0) >= LARGE_REQUEST_BYTES && (session.state.remoteWindowSize ?? 0) >= LARGE_REQUEST_BYTES;
      for (let i = 0; i < 100 && !widened(); i++) await new Promise((resolve) => setTimeout(resolve, 10));
      const perCall = session.remoteSettings.initialWindowSize;
      assert.ok((perCall ?? 0) >= LARGE_REQUEST_BYTES, `each call's window is ${perCall} bytes`);
      assert.ok((session.state.remoteWindowSize ?? 0) >= LARGE_REQUEST_BYTES, `the connection's window is ${session.state.remoteWindowSize} bytes`);
    } finally {
      session.close();
    }
  });

  it("a 2 MiB request arrives and is answered within a few turns of the event loop", async () => {
    // The hostile bench's UpdateTask: just under the payload limit, refused once read.
    const outputJson = '{"a":1,"b":"' + "\\x".repeat(1_000_000);
    const call = () =>
      h.client.tasks.updateTask({ result: { taskId: randomUUID(), leaseToken: "x", status: 3, outputJson, reasonForIncompletion: "", workerId: "w" } }).then(
        () => assert.fail("the update was taken"),
        (error: Error) => assert.match(error.message, /output_json is not valid JSON/),
      );
    await call(); // the connection is open and its windows widened before counting
    // Server and client share this thread: count its turns while the request goes out, arrives and is answered.
    let turns = 0;
    let immediate: NodeJS.Immediate | undefined;
    const turn = () => {
      turns++;
      immediate = setImmediate(turn);
    };
    turn();
    try {
      await call();
    } finally {
      clearImmediate(immediate);
    }
    // With 64 KiB windows: at least 32 acknowledgements, each a turn (measured 99); with the wider ones, 3.
    assert.ok(turns < 32, `the request took ${turns} turns of the event loop`);
  });
});
