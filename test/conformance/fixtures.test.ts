// Every Conductor fixture registers unchanged, reads back as it was written,
// and a registered run of each can be started.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startHarness, type Harness } from "../support/harness.js";
import { fixture, fixtureFiles, registerAll, terminateOpenRuns } from "./support.js";

let h: Harness;
before(async () => {
  h = await startHarness();
});
after(() => h.close());

describe("Conductor's fixtures", () => {
  it("has 76 workflow definitions and one event handler", () => {
    const { workflows, eventHandlers } = fixtureFiles();
    assert.equal(workflows.length, 76);
    assert.deepEqual(eventHandlers, ["sqs-complete-wait-event-handler.json"]);
  });

  it("registers every workflow fixture unchanged", async () => {
    const { registered, failed } = await registerAll(h);
    assert.deepEqual(failed, []);
    assert.equal(registered.length, 76);
    // Read back: the definition the server holds is the one sent (names are shared by some fixtures: last wins).
    const last = new Map<string, string>();
    for (const file of registered) last.set(fixture(file).name, file);
    for (const [name, file] of last) {
      const stored = await h.client.getWorkflowDef(name);
      const sent = fixture(file);
      for (const key of Object.keys(sent)) assert.deepEqual(stored[key], sent[key], `${file}: ${key}`);
    }
  });

  it("registers every fixture file: 76 as workflows, the event handler as an event handler (77)", async () => {
    const { workflows, eventHandlers } = fixtureFiles();
    const { registered, failed } = await registerAll(h);
    assert.deepEqual(failed, []);
    const handlers: string[] = [];
    for (const file of eventHandlers) {
      const sent = fixture(file);
      const result = await h.client.registerEventHandler(sent);
      assert.deepEqual(result.warnings, [], file);
      assert.deepEqual(await h.client.getEventHandler(sent.name), sent, `${file} reads back unchanged`);
      handlers.push(file);
    }
    assert.equal(registered.length + handlers.length, 77);
    assert.equal(workflows.length + eventHandlers.length, 77);
  });

  it("starts a run of every registered workflow", async () => {
    const names = new Set(fixtureFiles().workflows.map((f) => fixture(f).name));
    for (const name of names) {
      const id = await h.client.startWorkflow(name, { param1: "p1", param2: "p2", loop: 1, case: "c", subwf: "sub_workflow" });
      const run = await h.client.getWorkflow(id);
      assert.ok(["RUNNING", "COMPLETED", "FAILED", "TERMINATED"].includes(run.status), `${name}: ${run.status} ${run.reasonForIncompletion ?? ""}`);
    }
    await terminateOpenRuns(h);
  });
});
