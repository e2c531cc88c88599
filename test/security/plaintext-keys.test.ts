// API keys never cross a network in cleartext without an explicit opt-in
// (issue 14, point 8). Before: a server requiring keys started on a
// non-loopback address without TLS, silently, and the client sent its bearer
// token over plaintext to any host. Only loopback is ever connected to here:
// every refusal happens before a socket is opened.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { BatonClient, Worker } from "@baton/client";
import { serverOptionsFromEnv, startServer } from "@baton/server";
import { baton, ensureBuilt } from "../../packages/cli/test/support.js";

// startServer refuses before it opens the database: this one is never reached.
const unused = "postgres://nobody@127.0.0.1:1/none";
const key = "bk_abcdefghijkm_" + "x".repeat(43);

describe("a server that requires keys", () => {
  it("refuses to start on a non-loopback address without TLS, naming the ports and the ways out", async () => {
    await assert.rejects(
      startServer({ databaseUrl: unused, host: "0.0.0.0", port: 0, auth: { mode: "required" } }),
      /refusing to start: API keys are required but would travel in cleartext \(gRPC on 0\.0\.0\.0\).*--tls-cert.*loopback.*--insecure-allow-plaintext-keys/,
    );
  });

  it("refuses a plaintext Conductor REST or console port beyond loopback too", async () => {
    await assert.rejects(
      startServer({ databaseUrl: unused, host: "127.0.0.1", port: 0, auth: { mode: "required" }, conductor: { port: 0, host: "0.0.0.0" } }),
      /cleartext \(Conductor REST on 0\.0\.0\.0\)/,
    );
    await assert.rejects(
      startServer({ databaseUrl: unused, host: "127.0.0.1", port: 0, console: { port: 0, host: "0.0.0.0" } }),
      /cleartext \(console on 0\.0\.0\.0\)/,
    );
  });

  it("takes the opt-in from BATON_INSECURE_ALLOW_PLAINTEXT_KEYS", () => {
    assert.equal(serverOptionsFromEnv({ BATON_INSECURE_ALLOW_PLAINTEXT_KEYS: "1" }).allowPlaintextKeys, true);
    assert.equal(serverOptionsFromEnv({}).allowPlaintextKeys, undefined);
  });
});

describe("a client with a token", () => {
  it("refuses to send it in plaintext to a host that is not loopback", () => {
    for (const address of ["10.1.2.3:7233", "baton.example.com:7233", "dns:///baton.example.com:7233", "[2001:db8::1]:7233"]) {
      assert.throws(
        () => new BatonClient({ address, token: key, tls: false }),
        new RegExp(
          `refusing to send an API key in plaintext to .*${address.includes("example") ? "baton\\.example\\.com" : ""}.*allowPlaintextToken: true \\(BATON_ALLOW_PLAINTEXT_TOKEN=1\\)`,
        ),
      );
    }
    assert.throws(() => new Worker({ address: "10.1.2.3:7233", token: key, tls: false }), /refusing to send an API key in plaintext/);
  });

  it("sends it when opted in, over TLS, to loopback, or with no token at all", () => {
    const made = [
      new BatonClient({ address: "10.1.2.3:7233", token: key, tls: false, allowPlaintextToken: true }),
      new BatonClient({ address: "10.1.2.3:7233", token: key, tls: true }),
      new BatonClient({ address: "10.1.2.3:7233", token: "", tls: false }),
      ...["127.0.0.1:7233", "localhost:7233", "[::1]:7233", "127.9.9.9:1"].map((address) => new BatonClient({ address, token: key, tls: false })),
    ];
    for (const client of made) client.close();
    const before = process.env["BATON_ALLOW_PLAINTEXT_TOKEN"];
    process.env["BATON_ALLOW_PLAINTEXT_TOKEN"] = "1";
    try {
      new BatonClient({ address: "10.1.2.3:7233", token: key, tls: false }).close();
    } finally {
      if (before === undefined) delete process.env["BATON_ALLOW_PLAINTEXT_TOKEN"];
      else process.env["BATON_ALLOW_PLAINTEXT_TOKEN"] = before;
    }
  });

  it("the CLI refuses the same, before connecting", async () => {
    ensureBuilt();
    const r = await baton(["keys", "list"], {
      env: { BATON_ADDRESS: "10.1.2.3:7233", BATON_TOKEN: key, BATON_TLS_CA: "", BATON_TLS: "", BATON_DATABASE_URL: "", BATON_ALLOW_PLAINTEXT_TOKEN: "" },
    });
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, /refusing to send an API key in plaintext to 10\.1\.2\.3:7233/);
  });
});
