// What a worker prints about trouble it recovers from: words a user can act
// on, not grpc-js's.
import assert from "node:assert/strict";
import { test } from "node:test";
import { grpc } from "@baton/protocol";
import { describeWorkerError } from "../src/worker-errors.js";

test("a server that stops and resets its streams reads as stopped, not as grpc-js's RST_STREAM", () => {
  const reset = { code: grpc.status.INTERNAL, details: "Received RST_STREAM with code 0 (Call ended without gRPC status)" };
  assert.equal(describeWorkerError(reset, "127.0.0.1:7233"), "the Baton server at 127.0.0.1:7233 ended the connection (stopped or restarting?); reconnecting");
  const other = { code: grpc.status.INTERNAL, details: "something else" };
  assert.equal(describeWorkerError(other, "127.0.0.1:7233"), "Baton server at 127.0.0.1:7233: something else");
});
