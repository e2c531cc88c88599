// baton dev as a child process: embedded PostgreSQL in a data dir kept across
// restarts, clean shutdown on SIGTERM, and the demo (its printed console link
// opened in headless Chromium). Two server starts (the second one is the
// restart being tested).
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";
import { MAIN, baton, ensureBuilt, removeDir, tempProject } from "./support.js";

/** Where the console tests put their screenshots. */
const SHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../test/.tmp/console");

interface Dev {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
  /** Resolves with the first match of `re` in stdout+stderr. */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** SIGTERM; resolves with the exit code. */
  stop(): Promise<number | null>;
}

function startDev(args: string[], cwd: string): Dev {
  const child = spawn(process.execPath, [MAIN, "dev", ...args], {
    cwd,
    env: { ...process.env, BATON_DATABASE_URL: "", BATON_ADDRESS: "" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  child.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    async waitFor(re, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const m = (out + "\n" + err).match(re);
        if (m) return m;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${re} in\n${out}\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async stop() {
      if (child.exitCode === null) child.kill("SIGTERM");
      return exited;
    },
  };
}

describe("baton dev", () => {
  let dir: string;
  let dataDir: string;
  const running: Dev[] = [];

  before(() => {
    ensureBuilt();
    dir = tempProject({
      "defs/hello.json": JSON.stringify({ name: "cli_dev_hello", tasks: [{ name: "noop", taskReferenceName: "noop", type: "NOOP" }], schemaVersion: 2 }),
    });
    dataDir = mkdtempSync(path.join(tmpdir(), "baton-cli-dev-"));
  });

  after(async () => {
    for (const d of running) await d.stop();
    removeDir(dir);
    removeDir(dataDir);
  });

  test("serves on an embedded PostgreSQL, says where, stops cleanly on SIGTERM", async () => {
    const dev = startDev(["--port", "0", "--data-dir", dataDir, "-o", "json"], dir);
    running.push(dev);
    const ready = await dev.waitFor(/^\{"address":"([^"]+)".*\}$/m);
    const address = ready[1] ?? "";
    // stdout and stderr are separate pipes: wait for the stderr lines too.
    await dev.waitFor(/baton listening on 127\.0\.0\.1:\d+ \(PostgreSQL: embedded, data in /);
    await dev.waitFor(/no authentication; reachable from this machine only \(loopback\)/);

    const published = await baton(["publish", "defs"], { cwd: dir, env: { BATON_ADDRESS: address } });
    assert.equal(published.code, 0, published.stderr);
    assert.equal(await dev.stop(), 0);
    assert.match(dev.stderr(), /stopped/);
  });

  test("--demo after a restart on the same data dir: the earlier definition is still there; the demo run completes", async () => {
    const dev = startDev(["--port", "0", "--data-dir", dataDir, "--demo"], dir);
    running.push(dev);
    const listening = await dev.waitFor(/baton listening on (\S+) /);
    const address = listening[1] ?? "";
    await dev.waitFor(/^demo run \S+ \w+ in /m);
    // The console: its address on stderr, the demo run's page on stdout, served.
    const consoleUrl = (await dev.waitFor(/^console: (http:\/\/127\.0\.0\.1:\d+)$/m))[1] ?? "";
    const runPage = (await dev.waitFor(/see it in the console: (http:\/\/\S+\/runs\/[0-9a-f-]{36})$/m))[1] ?? "";
    assert.ok(runPage.startsWith(consoleUrl), `${runPage} is on ${consoleUrl}`);
    const page = await fetch(runPage);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<div id="app">/);
    // Opened in a browser, the printed link shows the demo run's graph, every step done.
    const browser = await chromium.launch({
      executablePath: process.env["BATON_CHROMIUM"] ?? "/usr/bin/chromium",
      headless: true,
      args: ["--no-sandbox", "--disable-gpu"],
    });
    try {
      const tab = await browser.newPage({ viewport: { width: 1280, height: 900 } });
      await tab.goto(runPage);
      for (const ref of ["greet", "exclaim", "shout"]) {
        const step = tab.locator(`g.node[data-ref="${ref}"]`).first();
        await step.waitFor({ timeout: 30_000 });
        assert.equal(await step.getAttribute("data-state"), "COMPLETED", `${ref} is drawn completed`);
      }
      mkdirSync(SHOTS, { recursive: true });
      await tab.screenshot({ path: path.join(SHOTS, "demo-run.png") });
    } finally {
      await browser.close();
    }

    // The hint names where the console is (a free port here), so the CLI's run links point at it.
    // `npx baton`: in a checkout or a project, baton is not on the PATH.
    const hint = await dev.waitFor(/^try: npx baton start baton_demo .*\(BATON_ADDRESS=(\S+) BATON_CONSOLE_URL=(\S+)\)$/m);
    assert.equal(hint[2], consoleUrl);
    const runId = runPage.split("/").pop() ?? "";
    const got = await baton(["get", runId], { env: { BATON_ADDRESS: hint[1] ?? "", BATON_CONSOLE_URL: hint[2] ?? "" } });
    assert.match(got.stdout, new RegExp(`^console: ${runPage.replace(/[.]/g, "\\.")}$`, "m"));

    const defs = await baton(["defs"], { env: { BATON_ADDRESS: address } });
    assert.match(defs.stdout, /^cli_dev_hello +1 /m, "kept across the restart");
    assert.match(defs.stdout, /^baton_demo +1 /m);
    assert.equal(await dev.stop(), 0);

    assert.match(dev.stdout(), /^demo run [0-9a-f-]{36} COMPLETED in [\d.]+ m?s: \{"message":"HELLO, WORLD!"\}$/m);
    assert.match(dev.stdout(), /^ {2}1 +greet +demo_greet +COMPLETED/m);
  });
});
