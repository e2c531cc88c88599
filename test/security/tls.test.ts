// TLS on the gRPC port: handshake with a private CA, plaintext and untrusted
// clients refused, mutual TLS, and the same from the environment (baton-server).
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { BatonClient, tlsFromEnv } from "@baton/client";
import { serverOptionsFromEnv } from "@baton/server";
import { freshDatabase, stopCluster } from "../support/database.js";
import { makeCerts, type Certs } from "./certs.js";
import { codeOf, startSecureServer, type SecureServer } from "./support.js";

const serverMain = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../server/dist/main.js");
let certs: Certs;

before(() => {
  certs = makeCerts();
});
after(async () => {
  certs.remove();
  // The last test made a database of its own; run alone, this file owns the cluster.
  await stopCluster();
});

/** A call that needs nothing but a working channel (and, with auth, a key). */
const ping = (client: BatonClient) => client.metadata.listWorkflowDefs({}, { deadline: 20_000 });

describe("TLS", () => {
  let s: SecureServer;
  let admin: string;
  before(async () => {
    s = await startSecureServer({ tls: { cert: certs.serverCert, key: certs.serverKey } });
    admin = (await s.registry.create({ role: "admin" })).key;
  });
  after(() => s.close());

  it("serves a client that trusts the CA, with the API key on top", async () => {
    assert.equal(s.server.tls, true);
    await ping(s.client(admin, { tls: { ca: certs.ca } }));
    // PEM given as a file path works the same.
    await ping(s.client(admin, { tls: { ca: certs.files.ca } }));
    // TLS does not stand in for a key.
    assert.equal(await codeOf(ping(s.client(undefined, { tls: { ca: certs.ca } }))), "UNAUTHENTICATED");
  });

  it("refuses a plaintext client", async () => {
    assert.equal(await codeOf(ping(s.client(admin, { tls: false }))), "UNAVAILABLE");
  });

  it("refuses a client that does not trust the server's CA", async () => {
    assert.equal(await codeOf(ping(s.client(admin, { tls: true }))), "UNAVAILABLE");
    assert.equal(await codeOf(ping(s.client(admin, { tls: { ca: certs.rogueCert } }))), "UNAVAILABLE");
  });
});

describe("mutual TLS", () => {
  let s: SecureServer;
  before(async () => {
    s = await startSecureServer({
      auth: { mode: "disabled" },
      tls: { cert: certs.files.serverCert, key: certs.files.serverKey, ca: certs.files.ca, requireClientCert: true },
    });
  });
  after(() => s.close());

  it("serves a client with a certificate from the CA", async () => {
    await ping(s.client(undefined, { tls: { ca: certs.ca, cert: certs.clientCert, key: certs.clientKey } }));
  });

  it("refuses a client without a certificate, or with one from another CA", async () => {
    assert.equal(await codeOf(ping(s.client(undefined, { tls: { ca: certs.ca } }))), "UNAVAILABLE");
    assert.equal(await codeOf(ping(s.client(undefined, { tls: { ca: certs.ca, cert: certs.rogueCert, key: certs.rogueKey } }))), "UNAVAILABLE");
    assert.equal(await codeOf(ping(s.client(undefined, { tls: false }))), "UNAVAILABLE");
  });
});

describe("TLS from the environment", () => {
  it("reads server and client settings from BATON_TLS_*", () => {
    const server = serverOptionsFromEnv({
      BATON_TLS_CERT: "/c.pem",
      BATON_TLS_KEY: "/k.pem",
      BATON_TLS_CA: "/ca.pem",
      BATON_TLS_REQUIRE_CLIENT_CERT: "1",
      BATON_METRICS_PORT: "9464",
    });
    assert.deepEqual(server.tls, { cert: "/c.pem", key: "/k.pem", ca: "/ca.pem", requireClientCert: true });
    assert.deepEqual(server.metrics, { port: 9464 });
    assert.throws(() => serverOptionsFromEnv({ BATON_TLS_CERT: "/c.pem" }), /BATON_TLS_KEY/);
    assert.deepEqual(serverOptionsFromEnv({ BATON_INSECURE_NO_AUTH: "1" }).auth, { mode: "disabled" });
    assert.deepEqual(tlsFromEnv({ BATON_TLS_CA: "/ca.pem", BATON_TLS_CLIENT_CERT: "/c.pem", BATON_TLS_CLIENT_KEY: "/k.pem" }), {
      ca: "/ca.pem",
      cert: "/c.pem",
      key: "/k.pem",
    });
    assert.equal(tlsFromEnv({}), undefined);
  });

  it("runs baton-server with TLS and mutual TLS from the environment", async () => {
    const child = spawn(process.execPath, [serverMain], {
      env: {
        ...process.env,
        BATON_DATABASE_URL: await freshDatabase(),
        BATON_PORT: "0",
        BATON_LOG_LEVEL: "warn",
        BATON_TLS_CERT: certs.files.serverCert,
        BATON_TLS_KEY: certs.files.serverKey,
        BATON_TLS_CA: certs.files.ca,
        BATON_TLS_REQUIRE_CLIENT_CERT: "1",
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    try {
      const address = await new Promise<string>((resolve, reject) => {
        let out = "";
        child.stdout!.on("data", (d: Buffer) => {
          out += d.toString();
          const m = /listening (\S+)/.exec(out);
          if (m) resolve(m[1]!);
        });
        child.on("exit", (code) => reject(new Error(`baton-server exited with ${code}`)));
      });
      const client = new BatonClient({ address, token: "", tls: { ca: certs.files.ca, cert: certs.files.clientCert, key: certs.files.clientKey } });
      const plain = new BatonClient({ address, token: "", tls: false });
      try {
        await ping(client);
        assert.equal(await codeOf(ping(plain)), "UNAVAILABLE");
      } finally {
        client.close();
        plain.close();
      }
    } finally {
      child.kill("SIGTERM");
      await new Promise((r) => (child.exitCode !== null ? r(null) : child.once("exit", r)));
    }
  });
});
