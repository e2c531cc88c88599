// The polyglot test, its worker programs' TS side and the polyglot benchmark
// type-check under the project's strict settings.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import path from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";

test("test/polyglot and test/bench/polyglot.ts type-check", () => {
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const config = path.join(path.dirname(fileURLToPath(import.meta.url)), "tsconfig.json");
  const run = spawnSync(process.execPath, [tsc, "-p", config], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stdout + run.stderr);
});
