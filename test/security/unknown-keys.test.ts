// Unknown key ids and database errors (issue 14, point 11). Before: every
// call with an unknown key id read the database again once the 1 s cache had
// passed, and a caller without a valid key, or /readyz, was told the
// database's own error text.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { BatonClient } from "@baton/client";
import { grpc } from "@baton/protocol";
import { Authenticator, hashKey, openKeyRegistry, type KeyRegistry } from "@baton/server";
import { eventually } from "../support/harness.js";
import { codeOf, startSecureServer, type SecureServer } from "./support.js";
import { superuserUrl } from "../support/database.js";

/** A well-formed key whose id is `id`. */
const keyWithId = (id: string) => `bk_${id}_${randomBytes(32).toString("base64url")}`;
const randomId = () => Array.from(randomBytes(12), (b) => "abcdefghijkmnpqrstuvwxyz23456789"[b % 32]).join("");
const bearer = (key: string) => {
  const metadata = new grpc.Metadata();
  metadata.set("authorization", `Bearer ${key}`);
  return metadata;
};

describe("an unknown key id", () => {
  let s: SecureServer;
  let keys: { registry: KeyRegistry; close(): Promise<void> };
  before(async () => {
    s = await startSecureServer();
    keys = await openKeyRegistry(s.databaseUrl);
  });
  after(async () => {
    await keys.close();
    await s.close();
  });

  it("costs one database read, however often and however long apart it is sent", async () => {
    let reads = 0;
    const find = keys.registry.find.bind(keys.registry);
    keys.registry.find = (id) => {
      reads++;
      return find(id);
    };
    let now = 0;
    const authenticator = new Authenticator(keys.registry, { now: () => now });
    const key = keyWithId(randomId());
    for (let i = 0; i < 20; i++) {
      await assert.rejects(authenticator.authenticate(bearer(key)), /unknown API key/);
      now += 5_000; // far past the 1 s a found key is trusted
    }
    assert.equal(reads, 1);
    // A known key is still read again once its cache time has passed (revocations must show).
    const { key: known } = await keys.registry.create({ role: "reader", name: "known" });
    await authenticator.authenticate(bearer(known));
    now += 5_000;
    await authenticator.authenticate(bearer(known));
    assert.equal(reads, 3);
  });

  it("works as soon as a key with that id is created, by any means (the creation notifies every replica)", async () => {
    const id = randomId();
    const key = keyWithId(id);
    const reader = s.client(key);
    assert.equal(await codeOf(reader.listSchedules()), "UNAUTHENTICATED");
    // Created in SQL, as an older `baton keys` or an operator's script might.
    const db = new pg.Client({ connectionString: s.databaseUrl });
    await db.connect();
    try {
      await db.query(
        "INSERT INTO baton.api_keys (id, name, role, task_types, secret_hash, created_at, created_by) VALUES ($1, 'late', 'reader', '{}', $2, 0, 'test')",
        [id, hashKey(key)],
      );
    } finally {
      await db.end();
    }
    await eventually(
      () => codeOf(reader.listSchedules()),
      (code) => code === "OK",
    );
  });
});

describe("a database that does not answer", () => {
  let s: SecureServer;
  let name: string;
  let admin: pg.Client;
  before(async () => {
    s = await startSecureServer({ metrics: { port: 0 } });
    name = new URL(s.databaseUrl).pathname.slice(1);
    // Barring connections and ending others' is the superuser's (the server's role owns the database, but the test acts as an operator would).
    const other = new URL(await superuserUrl(s.databaseUrl));
    other.pathname = "/postgres";
    admin = new pg.Client({ connectionString: other.toString() });
    await admin.connect();
    // The server's connections end and no new one is let in.
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS false`);
    await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", [name]);
  });
  after(async () => {
    await admin.query(`ALTER DATABASE ${name} ALLOW_CONNECTIONS true`);
    await admin.end();
    await s.close();
  });

  it("is not described to a caller without a valid key; the log has the detail", async () => {
    const stranger = new BatonClient({ address: s.server.address, token: keyWithId(randomId()), tls: false });
    try {
      const error = await stranger.listSchedules().then(
        () => undefined,
        (e: unknown) => e as { code?: number; details?: string; message?: string },
      );
      assert.equal(error?.code, grpc.status.UNAVAILABLE);
      const said = `${error?.details ?? ""} ${error?.message ?? ""}`;
      assert.match(said, /cannot check the API key now/);
      assert.doesNotMatch(said, /accepting connections|database|terminat|ECONN|postgres/i);
    } finally {
      stranger.close();
    }
    await eventually(
      async () => s.log.text,
      (text) => /cannot read API keys from the database/.test(text) && /not currently accepting connections|terminat/.test(text),
    );
  });

  it("is not described by /readyz", async () => {
    const ready = await eventually(
      async () => {
        const response = await fetch(`http://${s.server.metricsAddress}/readyz`);
        return { status: response.status, text: await response.text() };
      },
      (r) => r.status === 503,
    );
    assert.match(ready.text, /the database did not answer/);
    assert.doesNotMatch(ready.text, /accepting connections|terminat|ECONN|SQLSTATE|57P01|55000/i);
    assert.doesNotMatch(ready.text, new RegExp(name));
  });
});
