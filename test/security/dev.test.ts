// `baton dev` with --auth, TLS and a metrics port: the first admin key is made
// and shown once, the in-process demo runs over TLS with it, and a restart on
// the same data keeps the key (and shows none).
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { baton, ensureBuilt, removeDir } from "../../packages/cli/test/support.js";
import { makeCerts, type Certs } from "./certs.js";

let certs: Certs;
let dataDir: string;
const env = { BATON_DATABASE_URL: "", BATON_TOKEN: "", BATON_TLS_CA: "", BATON_ADDRESS: "", BATON_METRICS_PORT: "", BATON_AUTH: "" };

before(() => {
  ensureBuilt();
  certs = makeCerts();
  dataDir = mkdtempSync(path.join(tmpdir(), "baton-dev-auth-"));
});
after(() => {
  certs.remove();
  removeDir(dataDir);
});

const devArgs = () => [
  "dev",
  "--auth",
  "--port",
  "0",
  "--data-dir",
  dataDir,
  "--tls-cert",
  certs.files.serverCert,
  "--tls-key",
  certs.files.serverKey,
  "--tls-ca",
  certs.files.ca,
  "--metrics-port",
  "0",
  "--demo",
  "--exit",
];

describe("baton dev --auth --tls-*", () => {
  it("creates the first admin key, says so once, and runs the demo over TLS with it", async () => {
    const first = await baton([...devArgs(), "-o", "json"], { env, timeoutMs: 180_000 });
    assert.equal(first.code, 0, first.stderr);
    const [start, run] = first.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(start?.["auth"], "required");
    assert.equal(start?.["tls"], true);
    assert.match(String(start?.["metrics"]), /^http:\/\/127\.0\.0\.1:\d+\/metrics$/);
    assert.match(String(start?.["adminKey"]), /^bk_[a-z0-9]{12}_/);
    assert.equal(run?.["status"], "COMPLETED");
    assert.match(first.stderr, /auth: an API key is required/);
    assert.match(first.stderr, /no admin key existed: created admin key/);

    // Same data: the key is still there, none is made, and the demo needs it.
    const again = await baton(devArgs(), { env: { ...env, BATON_TOKEN: String(start?.["adminKey"]) }, timeoutMs: 180_000 });
    assert.equal(again.code, 0, again.stderr);
    assert.doesNotMatch(again.stderr, /no admin key existed/);
    assert.match(again.stdout, /demo run \S+ COMPLETED/);
    const denied = await baton(devArgs(), { env, timeoutMs: 180_000 });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /UNAUTHENTICATED/);
  });

  it("refuses contradictory or incomplete flags", async () => {
    const both = await baton(["dev", "--auth", "--insecure-no-auth", "--data-dir", path.join(dataDir, "unused")], { env });
    assert.equal(both.code, 2);
    assert.match(both.stderr, /contradict/);
    const half = await baton(["dev", "--tls-cert", certs.files.serverCert, "--data-dir", path.join(dataDir, "unused")], { env });
    assert.equal(half.code, 2);
    assert.match(half.stderr, /--tls-key/);
  });
});
