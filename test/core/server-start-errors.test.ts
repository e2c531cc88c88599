// baton-server that cannot start says why in one line, naming the setting to
// change, and exits with a code: no stack trace for a mistyped port or a
// database it cannot reach.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { test } from "node:test";
import { freePort, serverMain } from "../faults/lib/server.js";

function serverWith(env: Record<string, string>): Promise<{ code: number | null; stderr: string }> {
  const { BATON_DATABASE_URL: _url, BATON_LOG_LEVEL: _level, ...inherited } = process.env;
  const child = spawn(process.execPath, [serverMain], { env: { ...inherited, ...env }, stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve) => child.on("close", (code) => resolve({ code, stderr })));
}

test("a port setting that is not a port is refused, naming it", async () => {
  for (const name of ["BATON_PORT", "BATON_METRICS_PORT", "BATON_CONDUCTOR_PORT", "BATON_CONSOLE_PORT"]) {
    const r = await serverWith({ BATON_DATABASE_URL: "postgresql://baton@127.0.0.1:1/baton", [name]: "abc" });
    assert.equal(r.stderr, `${name} must be a port number (0-65535; 0 picks a free port), not "abc"\n`);
    assert.equal(r.code, 2);
  }
});

test("a database it cannot reach: one line naming BATON_DATABASE_URL, exit 1", async () => {
  const port = await freePort();
  const r = await serverWith({ BATON_DATABASE_URL: `postgresql://baton:secret@127.0.0.1:${port}/baton` });
  assert.equal(r.stderr, `baton-server: cannot start: connect ECONNREFUSED 127.0.0.1:${port} (PostgreSQL, at BATON_DATABASE_URL)\n`);
  assert.equal(r.code, 1);
});

test("no database named: what to set, exit 2", async () => {
  const r = await serverWith({});
  assert.match(r.stderr, /^BATON_DATABASE_URL is required: the PostgreSQL \(15 or later\) to run on, e\.g\. postgresql:\/\//);
  assert.equal(r.code, 2);
});
