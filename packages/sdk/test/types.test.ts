// Runs tsc over test/types: it passes only if every `@ts-expect-error` line is
// a type error and every other line compiles.
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

test("type tests: wrong refs, wrong fields and wrong types are compile errors", () => {
  tsc("./types/tsconfig.json");
});

test("the tests and the example type-check under the project's strict settings", () => {
  tsc("./tsconfig.json");
});
