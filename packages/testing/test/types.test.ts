// Runs tsc over test/types (every `@ts-expect-error` line must be an error)
// and over the tests themselves under the project's strict settings.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

function tsc(project: string): void {
  const bin = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const run = spawnSync(process.execPath, [bin, "-p", fileURLToPath(new URL(project, import.meta.url))], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stdout + run.stderr);
}

test("type tests: mocks, calls and runs are typed by the task types and flows", () => {
  tsc("./types/tsconfig.json");
});

test("the tests type-check under the project's strict settings", () => {
  tsc("./tsconfig.json");
});
