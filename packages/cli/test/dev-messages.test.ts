// What `baton dev` says when it cannot start, and when it stops: each message
// names what is wrong and what to do, on one line, with no stack trace.
import assert from "node:assert/strict";
import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { MAIN, baton, ensureBuilt, removeDir } from "./support.js";

const env = { BATON_DATABASE_URL: "", BATON_ADDRESS: "", BATON_LOG_LEVEL: "", BATON_DEBUG: "" };

/** `baton dev` in its own process group, as a shell runs it: Ctrl-C reaches the whole group. */
function startDev(args: string[]): {
  child: ChildProcess;
  stderr: () => string;
  waitFor(re: RegExp): Promise<RegExpMatchArray>;
  exited: Promise<number | null>;
} {
  const child = spawn(process.execPath, [MAIN, "dev", ...args], { env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let err = "";
  child.stderr?.on("data", (d: Buffer) => (err += d.toString()));
  child.stdout?.resume();
  const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
  return {
    child,
    stderr: () => err,
    exited,
    async waitFor(re) {
      for (const deadline = Date.now() + 90_000; ;) {
        const m = err.match(re);
        if (m) return m;
        if (child.exitCode !== null || Date.now() > deadline) throw new Error(`no ${re} in\n${err}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

function noStackTrace(stderr: string): void {
  assert.doesNotMatch(stderr, /^\s+at /m, "no stack trace");
  assert.doesNotMatch(stderr, /Cannot read properties|undefined/);
}

describe("baton dev: messages", () => {
  let base: string;
  let dataDir: string;
  let dev: ReturnType<typeof startDev>;
  let port: string;

  before(async () => {
    ensureBuilt();
    // As root, PostgreSQL runs as `postgres`, which must be able to enter the parent of the data dir.
    base = mkdtempSync(path.join(tmpdir(), "baton-dev-msg-"));
    chmodSync(base, 0o755);
    dataDir = path.join(base, "data");
    dev = startDev(["--port", "0", "--data-dir", dataDir]);
    port = (await dev.waitFor(/baton listening on 127\.0\.0\.1:(\d+)/))[1] ?? "";
  });

  after(async () => {
    if (dev.child.exitCode === null) {
      process.kill(-dev.child.pid!, "SIGTERM");
      await dev.exited;
    }
    removeDir(base);
  });

  test("a data directory another baton dev is using: says so, and what to do", async () => {
    const second = await baton(["dev", "--port", "0", "--data-dir", dataDir], { env });
    assert.equal(second.code, 1);
    assert.match(
      second.stderr,
      new RegExp(
        `^error: the data directory ${dataDir} is in use by another PostgreSQL \\(pid \\d+\\), probably another \`baton dev\`: stop that one, or give this one its own directory with --data-dir\\n$`,
        "m",
      ),
    );
    noStackTrace(second.stderr);
  });

  test("a port in use: one line naming the port and --port, before PostgreSQL starts", async () => {
    const second = await baton(["dev", "--port", port, "--data-dir", path.join(base, "other")], { env });
    assert.equal(second.code, 1);
    assert.equal(
      second.stderr,
      `error: port ${port} on 127.0.0.1 is in use (another \`baton dev\`?): stop what holds it, or choose another port with --port (0 picks a free one)\n`,
    );
  });

  test("with -o json the error is one JSON object on stderr, with the exit code", async () => {
    const second = await baton(["dev", "--port", port, "--data-dir", path.join(base, "other"), "-o", "json"], { env });
    assert.equal(second.code, 1);
    const error = (JSON.parse(second.stderr) as { error: { message: string; exitCode: number } }).error;
    assert.equal(error.exitCode, 1);
    assert.match(error.message, new RegExp(`^port ${port} on 127\\.0\\.0\\.1 is in use`));
  });

  test(
    "as root, a data directory the postgres user cannot reach: names the directory in the way",
    { skip: process.getuid?.() !== 0 && "only as root" },
    async () => {
      const closed = path.join(base, "closed");
      mkdirSync(closed, { mode: 0o700 });
      const result = await baton(["dev", "--port", "0", "--data-dir", path.join(closed, "data")], { env });
      assert.equal(result.code, 1);
      assert.match(
        result.stderr,
        new RegExp(
          `^error: running as root, the embedded PostgreSQL runs as the \`postgres\` user, which cannot reach ${closed} \\(on the way to ${closed}/data\\): give --data-dir a directory it can reach`,
          "m",
        ),
      );
      assert.doesNotMatch(result.stderr, /another baton dev/);
      noStackTrace(result.stderr);
    },
  );

  test("Ctrl-C (SIGINT to the whole process group, PostgreSQL included): stopping… then stopped, nothing between", async () => {
    process.kill(-dev.child.pid!, "SIGINT");
    assert.equal(await dev.exited, 0);
    const stderr = dev.stderr();
    assert.match(stderr, /press Ctrl-C to stop\nstopping…\nstopped\n$/);
    noStackTrace(stderr);
  });
});
