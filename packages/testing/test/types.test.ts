// Runs tsc over test/types: every `@ts-expect-error` line must be an error.
// (The tests themselves are type-checked by `npm run typecheck`.)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

test("type tests: mocks, calls and runs are typed by the task types and flows", () => {
  const bin = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const run = spawnSync(process.execPath, [bin, "-p", fileURLToPath(new URL("./types/tsconfig.json", import.meta.url))], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stdout + run.stderr);
});
