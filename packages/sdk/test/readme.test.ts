// The README's builder reference is code: every `wf` method appears in it as a
// call, and the flow it holds type-checks under the project's strict settings.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, test } from "node:test";
import { FlowContext } from "../src/builder/context.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const readme = readFileSync(path.join(here, "../README.md"), "utf8");
const reference = /```ts\n(\/\/ reference\.ts\n[\s\S]*?)```/.exec(readme)?.[1] ?? "";
const dir = path.join(here, ".readme");

after(() => rmSync(dir, { recursive: true, force: true }));

test("every wf method is in the builder reference, as a call", () => {
  assert.ok(reference, "README has the reference block");
  const context = new FlowContext() as unknown as Record<string, unknown>;
  const methods = [
    ...Object.keys(context).filter((k) => typeof context[k] === "function"),
    ...Object.getOwnPropertyNames(FlowContext.prototype).filter((k) => k !== "constructor"),
  ];
  assert.ok(methods.length >= 20, methods.join(", "));
  const missing = methods.filter((m) => !reference.includes(`wf.${m}(`) && !reference.includes(`wf.${m}<`));
  assert.deepEqual(missing, [], `not in the reference: ${missing.join(", ")}`);
});

test("the builder reference type-checks", () => {
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "reference.ts"), reference);
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
});
