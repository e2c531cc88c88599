// Secrets given to the CLI and written to logs (issue 14, point 13). Before:
// `baton keys` took the admin key and the database URL in argv only (visible
// in the process list), a password holding "@" was half shown by the URL
// redaction, and log redaction looked one level deep.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { createLogger } from "@baton/server";
import { redactUrl } from "../../packages/cli/src/cli/secrets.js";
import { baton, ensureBuilt, MAIN, REPO } from "../../packages/cli/test/support.js";
import { startSecureServer, type SecureServer } from "./support.js";

let s: SecureServer;
let env: Record<string, string>;
let dir: string;
let admin: string;

before(async () => {
  ensureBuilt();
  s = await startSecureServer();
  env = { BATON_ADDRESS: s.server.address, BATON_TOKEN: "", BATON_DATABASE_URL: "", BATON_TLS_CA: "" };
  dir = mkdtempSync(path.join(tmpdir(), "baton-secrets-"));
  admin = (await s.registry.create({ role: "admin", name: "admin" })).key;
});
after(async () => {
  rmSync(dir, { recursive: true, force: true });
  await s.close();
});

const secretFile = (name: string, text: string) => {
  const file = path.join(dir, name);
  writeFileSync(file, text, { mode: 0o600 });
  return file;
};

describe("baton keys takes its secrets out of argv", () => {
  it("reads the admin key from --token-file, with no warning", async () => {
    const r = await baton(["keys", "list", "-o", "json", "--token-file", secretFile("token", `${admin}\n`)], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.ok(Array.isArray(JSON.parse(r.stdout)));
    assert.equal(r.stderr, "");
  });

  it("reads it from stdin with --token-file -", async () => {
    // Not spawnSync: the server answering it runs in this process.
    const child = spawn(process.execPath, [MAIN, "keys", "list", "-o", "json", "--token-file", "-"], {
      cwd: REPO,
      env: { ...process.env, BATON_DEBUG: "", ...env },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.stdin.end(`${admin}\n`);
    const code = await new Promise<number | null>((resolve) => child.on("close", resolve));
    assert.equal(code, 0, stderr);
    assert.ok(Array.isArray(JSON.parse(stdout)));
  });

  it("still takes --token, warning that argv is visible", async () => {
    const r = await baton(["keys", "list", "-o", "json", "--token", admin], { env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /warning: --token puts a secret on the command line.*BATON_TOKEN or --token-file/);
  });

  it("reads the database URL from --database-url-file; --database-url with a password warns", async () => {
    const fromFile = await baton(["keys", "create", "--role", "reader", "-o", "json", "--database-url-file", secretFile("url", s.databaseUrl)], { env });
    assert.equal(fromFile.code, 0, fromFile.stderr);
    assert.match((JSON.parse(fromFile.stdout) as { key: string }).key, /^bk_/);
    assert.doesNotMatch(fromFile.stderr, /warning/);
    const inArgv = await baton(["keys", "list", "-o", "json", "--database-url", s.databaseUrl], { env });
    assert.equal(inArgv.code, 0, inArgv.stderr);
    if (new URL(s.databaseUrl).password) assert.match(inArgv.stderr, /warning: --database-url puts a secret on the command line/);
  });

  it("refuses an empty or missing secret file, naming it (exit 2)", async () => {
    const empty = await baton(["keys", "list", "--token-file", secretFile("empty", "")], { env });
    assert.equal(empty.code, 2);
    assert.match(empty.stderr, /--token-file: .*empty must hold the secret alone/);
    const missing = await baton(["keys", "list", "--token-file", path.join(dir, "nope")], { env });
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /--token-file: cannot read .*nope/);
  });
});

describe("redaction", () => {
  it("hides the whole password of a database URL, even one holding @ and :", () => {
    const url = "postgres://baton:p@ss:w@rd@db.example.com:5432/baton";
    const shown = redactUrl(url);
    assert.equal(shown, "postgres://baton:***@db.example.com:5432/baton");
    for (const part of ["p@ss", "ss", "w@rd", "rd@"]) assert.equal(shown.includes(part), false, `${part} shown in ${shown}`);
  });

  it("censors secret fields at any depth of a logged object, in arrays too, keeping errors readable", () => {
    let text = "";
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        text += chunk.toString();
        callback();
      },
    });
    const log = createLogger("info", sink);
    const error = Object.assign(new Error("upstream refused"), { config: { headers: { Authorization: "Bearer bk_deep_error_secret" } } });
    log.info(
      {
        request: { headers: [{ name: "x", authorization: "Bearer bk_secret_in_array" }] },
        a: { b: { c: { d: { e: { token: "tok_five_levels_down" } } } } },
        settings: { databaseUrl: "postgres://u:hunter2@h/db", nested: [{ password: "hunter3" }] },
        err: error,
      },
      "something happened",
    );
    for (const secret of ["bk_secret_in_array", "tok_five_levels_down", "hunter2", "hunter3", "bk_deep_error_secret"])
      assert.equal(text.includes(secret), false, `${secret} logged: ${text}`);
    assert.match(text, /upstream refused/);
    assert.match(text, /"authorization":"\[Redacted\]"/);
  });
});
