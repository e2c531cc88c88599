// Every Conductor fixture must be accepted unchanged: zero errors.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { validateWorkflowDef } from "../src/index.js";

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../..");
const fixtures = path.resolve(repoRoot, "../shared/conformance/conductor");
const files = readdirSync(fixtures)
  .filter((f) => f.endsWith(".json"))
  .sort();

// One fixture is an event handler (the SQS scenario's companion), not a WorkflowDef.
function isEventHandler(doc: Record<string, unknown>): boolean {
  return "event" in doc && Array.isArray(doc["actions"]) && !("tasks" in doc);
}

test("the fixture directory holds the 77 Conductor definitions", () => {
  assert.equal(files.length, 77);
});

for (const file of files) {
  test(`fixture ${file} validates with zero errors`, () => {
    const doc = JSON.parse(readFileSync(path.join(fixtures, file), "utf8")) as Record<string, unknown>;
    if (isEventHandler(doc)) return;
    assert.deepEqual(validateWorkflowDef(doc).errors, []);
  });
}
