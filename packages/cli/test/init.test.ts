// From nothing to a flow in your own project, outside this repository and with
// no registry: `npm run pack`'s tarballs, `baton init`, then `npm install &&
// npm test && npx baton compile` in a fresh temp dir — offline, from npm's
// cache as `npm ci` left it. Then the README's path on: `baton dev`, the
// worker, publish, start. The README's "Write a flow" and its test are added
// to the project as typed. (A CLI installed alone: cli-alone.test.ts.)
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, existsSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, ensureBuilt, removeDir } from "./support.js";
import { offlineLock } from "./offline-lock.js";
import { ok, sh } from "./outside.js";

/** A fenced block of the README that starts with `// <file>`. */
function readmeBlock(file: string): string {
  const readme = readFileSync(path.join(REPO, "README.md"), "utf8");
  const block = new RegExp("```ts\\n(// " + file.replaceAll(".", "\\.") + "[^\\n]*\\n[\\s\\S]*?)```").exec(readme)?.[1];
  assert.ok(block, `README has a block starting // ${file}`);
  return block;
}

describe("baton init: your own project, outside the repository, offline", () => {
  let base: string;
  let packs: string;
  let project: string;
  let dev: ChildProcess | undefined;
  let worker: ChildProcess | undefined;

  before(() => {
    ensureBuilt();
    base = mkdtempSync(path.join(tmpdir(), "baton-init-"));
    // As root, the embedded PostgreSQL runs as `postgres`, which must reach the project's data dir.
    chmodSync(base, 0o755);
    packs = path.join(base, "packs");
    project = path.join(base, "my-flows");
    assert.ok(!path.relative(REPO, base).match(/^[^.]/), "the project is outside the repository");
  });

  after(async () => {
    // npx and npm run start their own children: stop each whole process group (baton dev then stops PostgreSQL).
    for (const child of [worker, dev]) {
      if (child?.pid === undefined) continue;
      const exited = child.exitCode === null ? new Promise((r) => child.once("exit", r)) : Promise.resolve();
      try {
        process.kill(-child.pid, "SIGTERM");
      } catch {
        // the group is gone already
      }
      await exited;
    }
    removeDir(base);
  });

  test("npm run pack writes a versioned tarball per package", async () => {
    const packed = await sh(process.execPath, [path.join(REPO, "scripts/pack.mjs"), packs], REPO);
    ok(packed, "pack");
    assert.deepEqual(readdirSync(packs).sort(), [
      "baton-cli-0.1.0.tgz",
      "baton-client-0.1.0.tgz",
      "baton-console-0.1.0.tgz",
      "baton-json-0.1.0.tgz",
      "baton-protocol-0.1.0.tgz",
      "baton-sdk-0.1.0.tgz",
      "baton-server-0.1.0.tgz",
      "baton-testing-0.1.0.tgz",
    ]);
  });

  test("baton init scaffolds the project, and says what to do next", async () => {
    const init = await sh(process.execPath, [path.join(REPO, "packages/cli/bin/baton.js"), "init", "my-flows", "--packages", packs], base);
    ok(init, "init");
    assert.equal(
      init.stdout,
      `created my-flows (my-flows), with the Baton packages from ${packs}\nnext: cd my-flows && npm install && npm test && npx baton compile\n`,
    );
    for (const file of ["package.json", "tsconfig.json", "src/flows/hello.ts", "src/worker.ts", "test/hello.test.ts", "vendor/baton/baton-sdk-0.1.0.tgz"]) {
      assert.ok(existsSync(path.join(project, file)), file);
    }
    const tsconfig = JSON.parse(readFileSync(path.join(project, "tsconfig.json"), "utf8")) as { compilerOptions: Record<string, unknown> };
    assert.equal(tsconfig.compilerOptions["strict"], true);

    const again = await sh(process.execPath, [path.join(REPO, "packages/cli/bin/baton.js"), "init", "my-flows", "--packages", packs], base);
    assert.equal(again.code, 2);
    assert.equal(again.stderr, "error: my-flows is not empty: give a new directory\n");
    const none = await sh(process.execPath, [path.join(REPO, "packages/cli/bin/baton.js"), "init", "other", "--packages", path.join(base, "nowhere")], base);
    assert.equal(none.code, 2);
    assert.match(
      none.stderr,
      /^error: no @baton\/protocol tarball in .*nowhere: run `npm run pack` in the Baton checkout, or give the directory it wrote with --packages\n$/,
    );
  });

  test("the README's flow and test, as typed, join the project; npm install && npm test && npx baton compile pass", async () => {
    writeFileSync(path.join(project, "src/flows/encode.ts"), readmeBlock("src/flows/encode.ts"));
    writeFileSync(path.join(project, "test/encode.test.ts"), readmeBlock("test/encode.test.ts"));
    writeFileSync(path.join(project, "package-lock.json"), JSON.stringify(offlineLock(REPO, project), null, 2) + "\n");

    ok(await sh("npm", ["install", "--offline", "--no-audit", "--no-fund"], project), "npm install");
    const tested = await sh("npm", ["test"], project);
    ok(tested, "npm test");
    assert.match(tested.stdout, /^# pass 2$/m);
    const compiled = await sh("npx", ["baton", "compile"], project);
    ok(compiled, "npx baton compile");
    assert.deepEqual(readdirSync(path.join(project, "dist/flows")).sort(), ["encode_video.v1.json", "hello.v1.json", "taskdefs.json"]);
  });

  test("then baton dev, the worker, publish and start, as the README says", async () => {
    dev = spawn("npx", ["baton", "dev", "--port", "0"], { cwd: project, stdio: ["ignore", "pipe", "pipe"], detached: true });
    let devErr = "";
    dev.stderr!.on("data", (d: Buffer) => (devErr += d.toString()));
    dev.stdout!.resume();
    const address = await new Promise<string>((resolve, reject) => {
      const timer = setInterval(() => {
        const m = /baton listening on (\S+)/.exec(devErr);
        if (m) resolve(m[1]!);
        else if (dev!.exitCode !== null) reject(new Error(devErr));
      }, 100);
      dev!.once("exit", () => setTimeout(() => clearInterval(timer), 200));
    });
    worker = spawn("npm", ["run", "worker"], { cwd: project, env: { ...process.env, BATON_ADDRESS: address }, stdio: "ignore", detached: true });
    const env = { BATON_ADDRESS: address };
    ok(await sh("npx", ["baton", "publish", "src/flows"], project, env), "publish");
    const started = await sh("npx", ["baton", "start", "hello", "--input", '{"name":"you"}', "--wait", "-o", "json"], project, env);
    ok(started, "start --wait");
    assert.deepEqual((JSON.parse(started.stdout) as { output: unknown }).output, { message: "HELLO, YOU!" });
    const refused = await sh("npx", ["baton", "start", "hello", "--input", "{}"], project, env);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /missing required input: name/);
  });
});
