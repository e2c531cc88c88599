// validateWorkflowDef / validateTaskDef on hostile input: they never throw, and
// every issue names where it is with a JSON pointer into the input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import fc from "fast-check";
import { validateTaskDef, validateWorkflowDef } from "@baton/sdk";
import { anyDefinition, fuzzRuns, isJsonPointer, resolvePointer, taskDef } from "./arbitraries.js";
import { flowOf } from "../support/flows.js";

function checkIssues(doc: unknown, issues: { path: string; message: string }[]): void {
  assert.ok(Array.isArray(issues));
  for (const issue of issues) {
    assert.equal(typeof issue.message, "string");
    assert.ok(issue.message.length > 0, "an issue without a message");
    assert.ok(isJsonPointer(issue.path), `not a JSON pointer: ${JSON.stringify(issue.path)}`);
    // The pointer names a place in the input: the value itself, or where a missing field
    // belongs (its parent, or for a missing inputParameters.x its grandparent).
    const up = (p: string) => p.slice(0, Math.max(0, p.lastIndexOf("/")));
    const found = [issue.path, up(issue.path), up(up(issue.path))].some((p) => resolvePointer(doc, p).found);
    assert.ok(found, `${issue.path} points nowhere in the input`);
  }
}

describe("definition validation on hostile input", () => {
  it("validateWorkflowDef never throws; its errors and warnings carry JSON pointers into the input", () => {
    fc.assert(
      fc.property(anyDefinition, (def) => {
        const result = validateWorkflowDef(def, { hasTaskDef: (n) => n.length % 2 === 0 });
        checkIssues(def, result.errors);
        checkIssues(def, result.warnings);
      }),
      { numRuns: fuzzRuns(500) },
    );
  });

  it("validateTaskDef never throws; its errors carry JSON pointers", () => {
    fc.assert(
      fc.property(fc.oneof(taskDef, fc.anything()), (def) => {
        checkIssues(def, validateTaskDef(def));
      }),
      { numRuns: fuzzRuns(500) },
    );
  });

  it("is the same answer twice (no state kept between calls)", () => {
    fc.assert(
      fc.property(anyDefinition, (def) => {
        assert.deepEqual(validateWorkflowDef(def), validateWorkflowDef(def));
      }),
      { numRuns: fuzzRuns(200) },
    );
  });

  it("a very deep definition is refused with errors, not a stack overflow", {}, () => {
    for (const depth of [200, 2000, 20_000]) {
      let tasks: object[] = [{ name: "leaf", taskReferenceName: "leaf", type: "SIMPLE" }];
      for (let i = 0; i < depth; i++) tasks = [{ name: `l${i}`, taskReferenceName: `l${i}`, type: "DO_WHILE", loopCondition: "false", loopOver: tasks }];
      const def = flowOf("deep", tasks);
      let result;
      try {
        result = validateWorkflowDef(def);
      } catch (error) {
        assert.fail(`validateWorkflowDef threw at depth ${depth}: ${(error as Error).message}`);
      }
      checkIssues(def, result.errors);
    }
  });
});
