// The gRPC port checks a unary call's key as its metadata arrives, before its
// message is read (issue 14): a caller without a valid key holds no room in the
// request-bytes budget with messages it never finishes. Before, such a message
// took room from its length prefix until its stream closed, and only a whole
// message reached the guard that refused the key.
import assert from "node:assert/strict";
import http2 from "node:http2";
import { after, before, describe, it } from "node:test";
import { eventually } from "../support/harness.js";
import { codeOf, startSecureServer, type SecureServer } from "./support.js";

const MiB = 1024 * 1024;
let s: SecureServer;

before(async () => {
  s = await startSecureServer({ requestBudget: { totalBytes: 4 * MiB, connectionBytes: 4 * MiB } });
});
after(() => s.close());

async function inHand(): Promise<number> {
  const values = (await s.server.metrics.registry.getSingleMetric("baton_request_bytes_in_hand")?.get())?.values ?? [];
  return values[0]?.value ?? 0;
}

/** Raw HTTP/2 streams announcing a 1 MiB UpdateTask message and sending its first 1,005 bytes; each stream's grpc-status as it comes. */
function unfinished(n: number, authorization?: string): { session: http2.ClientHttp2Session; statuses: string[] } {
  const session = http2.connect(`http://${s.server.address}`);
  session.on("error", () => {});
  const statuses: string[] = [];
  const prefix = Buffer.alloc(5);
  prefix.writeUInt32BE(MiB, 1);
  for (let i = 0; i < n; i++) {
    const stream = session.request({
      ":method": "POST",
      ":path": "/baton.v1.TaskService/UpdateTask",
      "content-type": "application/grpc",
      te: "trailers",
      ...(authorization ? { authorization } : {}),
    });
    stream.on("error", () => {});
    // A refusal before any answer comes as headers only (a trailers-only response); after, as trailers.
    stream.on("response", (headers) => headers["grpc-status"] !== undefined && statuses.push(String(headers["grpc-status"])));
    stream.on("trailers", (trailers) => trailers["grpc-status"] !== undefined && statuses.push(String(trailers["grpc-status"])));
    stream.write(Buffer.concat([prefix, Buffer.alloc(1000)]));
  }
  return { session, statuses };
}

describe("request bytes and keys on the gRPC port", () => {
  it("ends a call with no key, or a key that is not one, before its message is read: it holds no room", async () => {
    for (const authorization of [undefined, "Bearer not-a-key", "Bearer bk_0000000000000000_nosuchsecret"]) {
      const { session, statuses } = unfinished(4, authorization);
      try {
        // Refused UNAUTHENTICATED (16) while the stream stays open and the message unfinished.
        await eventually(
          async () => statuses.length,
          (n) => n === 4,
        );
        assert.deepEqual(statuses, ["16", "16", "16", "16"], `${authorization ?? "no key"}: each call refused unauthenticated`);
        await eventually(inHand, (bytes) => bytes === 0);
      } finally {
        session.destroy();
      }
    }
  });

  it("lets a call with a valid key take room for its unfinished message, and refuses a small keyless call as before", async () => {
    const { key } = await s.registry.create({ name: "worker", role: "worker", taskTypes: ["*"] });
    const { session, statuses } = unfinished(2, `Bearer ${key}`);
    try {
      await eventually(inHand, (bytes) => bytes === 2 * MiB);
      assert.deepEqual(statuses, [], "a valid key's unfinished calls are not refused");
    } finally {
      session.destroy();
    }
    await eventually(inHand, (bytes) => bytes === 0);
    assert.equal(await codeOf(s.client().tasks.poll({ taskType: "any", workerId: "w", count: 1, waitMs: 0n })), "UNAUTHENTICATED");
    assert.equal(await codeOf(s.client(key).tasks.poll({ taskType: "any", workerId: "w", count: 1, waitMs: 0n })), "OK");
  });
});
