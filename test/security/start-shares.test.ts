// The starts a server takes on at once are a budget every key shares (issue
// 14): beyond 256 in progress a start is refused "busy" (retry), so overload
// sheds early. One operator key keeping 600 starts in flight held every
// slot: half of another key's starts were refused. A key now holds at most
// half of them.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { flowOf } from "../support/flows.js";
import { startSecureServer, type SecureServer } from "./support.js";

let s: SecureServer;

before(async () => {
  s = await startSecureServer();
  const admin = await s.clientWithNewKey({ role: "admin", name: "admin" });
  await admin.registerWorkflowDef(flowOf("held", [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]));
});
after(async () => {
  await s.close();
});

describe("a key's share of the starts in flight", () => {
  it("one key's flood of starts leaves another key's starts answered", async () => {
    const greedy = await s.clientWithNewKey({ role: "operator", name: "greedy" });
    const polite = await s.clientWithNewKey({ role: "operator", name: "polite" });
    let flooding = true;
    const refusals: string[] = [];
    let greedyStarted = 0;
    // 600 starts kept in flight: each sent again when it is answered (10 ms after a refusal).
    const flood = Array.from({ length: 600 }, async () => {
      while (flooding)
        await greedy.workflows.startWorkflow({ name: "held", inputJson: "{}" }).then(
          () => greedyStarted++,
          async (e: Error) => {
            refusals.push(e.message);
            await new Promise((resolve) => setTimeout(resolve, 10));
          },
        );
    });
    try {
      while (refusals.length === 0) await new Promise((resolve) => setTimeout(resolve, 20));
      let refused = 0;
      for (let i = 0; i < 10; i++) await polite.workflows.startWorkflow({ name: "held", inputJson: "{}" }).catch(() => refused++);
      assert.equal(refused, 0, `${refused} of the polite key's 10 starts were refused while the greedy key flooded`);
    } finally {
      flooding = false;
      await Promise.all(flood);
    }
    assert.ok(greedyStarted > 0, "the greedy key's starts are served too");
    assert.match(
      refusals[0]!,
      /RESOURCE_EXHAUSTED: this key has 128 starts in progress, its share \(half\) of the 256 the server takes at once; wait for them, then retry/,
    );
  });
});
