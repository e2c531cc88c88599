// Runs tsc over test/types: it passes only if every `@ts-expect-error` line is
// a type error and every other line compiles. (The tests themselves are
// type-checked by `npm run typecheck`.)
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createRequire } from "node:module";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

test("type tests: wrong refs, wrong fields and wrong types are compile errors", () => {
  const bin = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const run = spawnSync(process.execPath, [bin, "-p", fileURLToPath(new URL("./types/tsconfig.json", import.meta.url))], { encoding: "utf8" });
  assert.equal(run.status, 0, run.stdout + run.stderr);
});
