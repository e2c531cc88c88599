// The engine's caches are bounded by bytes, not only by count (issue 14,
// point 12): definitions by content hash (kept forever before), the latest
// version of each workflow and the definitions' graphs (10,000 and 1,000
// entries, whatever their size). A definition may be 4 MiB, so a publisher
// registering and running large ones could take the server's memory. Input
// schemas are compiled in the queries pool's threads, never on the serving
// thread, so the serving thread keeps no cache of them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { cacheSizes } from "@baton/server";
import { startHarness, type Harness } from "../support/harness.js";

const MiB = 1024 * 1024;
const FLOWS = 48;

let h: Harness;

before(async () => {
  h = await startHarness({ manualClock: false });
});
after(() => h.close());

describe("the engine's caches", () => {
  it("hold at most their byte budget however large the definitions they keep", async () => {
    // 48 definitions of 1 MiB each, each run once (started by name, so its latest version is cached too)
    // and terminated (an event on the run reads its definition by hash).
    for (let i = 0; i < FLOWS; i++) {
      const name = `large_${i}`;
      await h.client.registerWorkflowDef({
        name,
        version: 1,
        schemaVersion: 2,
        // The bulk is its input schema (compiled and checked in the queries pool).
        inputSchema: { name: `schema_${i}`, type: "JSON", data: { type: "object", description: `${i}`.padEnd(MiB, "d") } },
        tasks: [{ name: "w", taskReferenceName: "w", type: "WAIT" }],
      });
      await h.client.terminateWorkflow(await h.client.startWorkflow(name, {}), "done");
    }
    const sizes = cacheSizes();
    assert.equal(sizes["input schemas"], undefined, "no input schema is compiled on the serving thread");
    for (const name of ["definitions", "latest definitions", "graphs"]) {
      const cache = sizes[name];
      assert.ok(cache, `cache ${name} is listed`);
      assert.ok(cache.bytes <= cache.maxBytes, `${name} holds ${cache.bytes} bytes (budget ${cache.maxBytes})`);
      assert.ok(cache.entries > 0 && cache.entries < FLOWS, `${name} holds ${cache.entries} of ${FLOWS} entries: the oldest went`);
    }
    // An evicted definition is read again when its run needs it.
    const first = await h.client.startWorkflow("large_0", {});
    await h.client.terminateWorkflow(first, "done");
    assert.equal((await h.client.getWorkflow(first, { includeTasks: false })).status, "TERMINATED");
  });
});
