// Large gRPC requests are decoded one per turn of the event loop
// (server/src/grpc-requests.ts): grpc-js decodes a message in the turn that
// completes it, and publishes of 4 MiB sent at once on one connection, their
// last bytes arriving together, were decoded in one turn, their texts with
// them, while every other call waited. The decoded requests are the same.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { VersionPolicy } from "@baton/protocol";
import { startHarness, type Harness } from "../support/harness.js";
import { countTurns } from "../support/turns.js";
import { holdingItems } from "../support/flows.js";

let h: Harness;
before(async () => {
  h = await startHarness({ manualClock: false });
});
after(() => h.close());

/** The turn of the event loop in which each text of `min` bytes or more was decoded from UTF-8 while `fn` ran (this thread is the server's). */
async function decodeTurns<T>(min: number, fn: () => Promise<T>): Promise<{ result: T; turns: number[] }> {
  const { decode } = TextDecoder.prototype;
  const turns: number[] = [];
  const counter = countTurns();
  TextDecoder.prototype.decode = function (...args: Parameters<typeof decode>) {
    if (args[0] && args[0].byteLength >= min) turns.push(counter.now);
    return decode.apply(this, args);
  };
  try {
    return { result: await fn(), turns };
  } finally {
    TextDecoder.prototype.decode = decode;
    counter.stop();
  }
}

describe("large gRPC requests", () => {
  it("sent at once are decoded in turns of their own, and published as sent", async () => {
    const defs = Array.from({ length: 4 }, (_, i) => holdingItems(`decode_turns_${i}`, 25_000));
    const texts = defs.map((def) => JSON.stringify(def));
    await h.client.metadata.registerWorkflowDef({ definitionJson: JSON.stringify(holdingItems("decode_turns_warm", 1)) }); // the connection is open
    const { result, turns } = await decodeTurns(texts[0]!.length / 2, () =>
      Promise.all(texts.map((definitionJson) => h.client.metadata.registerWorkflowDef({ definitionJson, versionPolicy: VersionPolicy.NEXT_IF_CHANGED }))),
    );
    assert.equal(turns.length, 4, `decoded ${turns.length} large texts`);
    assert.equal(new Set(turns).size, 4, `four requests decoded in turns ${turns.join(", ")}`);
    assert.deepEqual(
      result.map((r) => r.version),
      [1, 1, 1, 1],
    );
    for (const def of defs) assert.deepEqual((await h.client.getWorkflowDef(def.name)).tasks, def.tasks);
  });
});
