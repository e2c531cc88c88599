// The README's example is code: it is type-checked under the project's strict
// settings and run as a test file, as a user would copy it.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";

const here = path.dirname(fileURLToPath(import.meta.url));
const dir = path.join(here, ".readme");
const readme = readFileSync(path.join(here, "../README.md"), "utf8");
const example = /```ts\n(\/\/ flows\/encode\.test\.ts[\s\S]*?)```/.exec(readme)?.[1];

after(() => rmSync(dir, { recursive: true, force: true }));

test("the README's example type-checks and passes", () => {
  assert.ok(example, "README has the example");
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "example.test.ts"), example);
  writeFileSync(
    path.join(dir, "tsconfig.json"),
    JSON.stringify({
      extends: "../../../../tsconfig.json",
      compilerOptions: { noEmit: true, composite: false, incremental: false, declaration: false, declarationMap: false, rootDir: "." },
      include: ["*.ts"],
    }),
  );
  const tsc = createRequire(import.meta.url).resolve("typescript/bin/tsc");
  const checked = spawnSync(process.execPath, [tsc, "-p", path.join(dir, "tsconfig.json")], { encoding: "utf8" });
  assert.equal(checked.status, 0, checked.stdout + checked.stderr);
  // A test run of its own (not a subtest of this one): without the runner's context variable.
  const { NODE_TEST_CONTEXT: _, ...env } = process.env;
  const ran = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-reporter=tap", path.join(dir, "example.test.ts")], { encoding: "utf8", env });
  assert.equal(ran.status, 0, ran.stdout + ran.stderr);
  assert.match(ran.stdout, /^# pass 1$/m);
});
