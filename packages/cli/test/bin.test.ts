// `npx baton` right after `npm ci`: npm links a bin only if its file exists at
// install time, so the bin is a committed file that loads the built CLI.
import assert from "node:assert/strict";
import { execFile, execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { test } from "node:test";
import { promisify } from "node:util";
import { CLI_DIR, REPO, ensureBuilt, removeDir } from "./support.js";

const run = (file: string, args: string[], cwd: string) =>
  promisify(execFile)(file, args, { cwd, env: { ...process.env, npm_config_yes: "true" } }).then(
    (r) => ({ code: 0, ...r }),
    (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, stdout: e.stdout, stderr: e.stderr }),
  );

test("the bin npm links is a committed file (there before any build), not one the build makes", () => {
  const pkg = JSON.parse(readFileSync(path.join(CLI_DIR, "package.json"), "utf8")) as { bin: Record<string, string>; files: string[] };
  const bin = pkg.bin["baton"] ?? "";
  assert.equal(bin, "./bin/baton.js");
  assert.ok(pkg.files.includes("bin"), "the bin is in the package");
  // Tracked by git: a fresh clone has it when `npm ci` links it, before `npm run build` makes dist/.
  const tracked = execFileSync("git", ["ls-files", "--error-unmatch", path.join("packages/cli", bin)], { cwd: REPO, encoding: "utf8" });
  assert.equal(tracked.trim(), "packages/cli/bin/baton.js");
});

test("npx baton works in the checkout", async () => {
  ensureBuilt();
  const result = await run("npx", ["--no-install", "baton", "--version"], REPO);
  assert.equal(result.code, 0, result.stderr);
  assert.equal(result.stdout.trim(), "0.1.0");
});

test("before the build, the bin says what to do", async () => {
  const dir = mkdtempSync(path.join(tmpdir(), "baton-bin-"));
  try {
    mkdirSync(path.join(dir, "bin"));
    copyFileSync(path.join(CLI_DIR, "bin/baton.js"), path.join(dir, "bin/baton.js"));
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ type: "module" }));
    const result = await run(process.execPath, [path.join(dir, "bin/baton.js"), "--version"], dir);
    assert.equal(result.code, 1);
    assert.equal(
      result.stderr,
      "error: baton is not built yet (no packages/cli/dist/main.js)\n  run `npm run build` at the root of the Baton checkout, then `npx baton` again\n",
    );
  } finally {
    removeDir(dir);
  }
});
