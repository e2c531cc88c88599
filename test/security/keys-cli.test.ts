// `baton keys`: the first admin key straight into the database, then keys
// created, listed and revoked through the server with it.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { baton, ensureBuilt } from "../../packages/cli/test/support.js";
import { codeOf, startSecureServer, type SecureServer } from "./support.js";

let s: SecureServer;
let env: Record<string, string>;

before(async () => {
  ensureBuilt();
  s = await startSecureServer();
  env = { BATON_ADDRESS: s.server.address, BATON_TOKEN: "", BATON_DATABASE_URL: "", BATON_TLS_CA: "" };
});
after(() => s.close());

describe("baton keys", () => {
  let admin: string;

  it("bootstraps the first admin key against the database, printing it once", async () => {
    const r = await baton(["keys", "create", "--role", "admin", "--name", "bootstrap", "--database-url", s.databaseUrl, "-o", "json"], { env });
    assert.equal(r.code, 0, r.stderr);
    const created = JSON.parse(r.stdout) as { key: string; id: string; role: string; name: string };
    assert.match(created.key, /^bk_[a-z0-9]{12}_/);
    assert.equal(created.role, "admin");
    assert.equal(created.key.split("_")[1], created.id);
    admin = created.key;
    // Text mode: the key alone on stdout, the explanation on stderr.
    const text = await baton(["keys", "create", "--role", "reader"], { env: { ...env, BATON_DATABASE_URL: s.databaseUrl } });
    assert.equal(text.code, 0, text.stderr);
    assert.match(text.stdout.trim(), /^bk_[a-z0-9]{12}_[A-Za-z0-9_-]{43}$/);
    assert.match(text.stderr, /shown only now/);
  });

  it("creates, lists and revokes keys through the server with an admin key", async () => {
    const created = await baton(["keys", "create", "--role", "worker", "--task-types", "encode,notify", "--name", "ci", "-o", "json", "--token", admin], {
      env,
    });
    assert.equal(created.code, 0, created.stderr);
    const worker = JSON.parse(created.stdout) as { key: string; id: string; taskTypes: string[] };
    assert.deepEqual(worker.taskTypes, ["encode", "notify"]);
    await s.client(worker.key).tasks.poll({ taskType: "encode", workerId: "w", count: 1, waitMs: 1n });

    const list = await baton(["keys", "list"], { env: { ...env, BATON_TOKEN: admin } });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^ID\s+NAME\s+ROLE\s+TASK TYPES/);
    assert.match(list.stdout, new RegExp(`${worker.id}\\s+ci\\s+worker\\s+encode,notify`));
    assert.equal(list.stdout.includes(worker.key.slice(16)), false, "no secret in the list");

    const revoked = await baton(["keys", "revoke", worker.id], { env: { ...env, BATON_TOKEN: admin } });
    assert.equal(revoked.code, 0, revoked.stderr);
    assert.equal(revoked.stdout.trim(), `revoked ${worker.id}`);
    assert.equal(await codeOf(s.client(worker.key).tasks.poll({ taskType: "encode", workerId: "w", count: 1, waitMs: 1n })), "UNAUTHENTICATED");

    const active = await baton(["keys", "list", "-o", "json"], { env: { ...env, BATON_TOKEN: admin } });
    assert.equal(
      (JSON.parse(active.stdout) as { id: string }[]).some((k) => k.id === worker.id),
      false,
    );
    const all = await baton(["keys", "list", "--all", "-o", "json", "--database-url", s.databaseUrl], { env });
    const listed = (JSON.parse(all.stdout) as { id: string; revokedAt: number }[]).find((k) => k.id === worker.id);
    assert.ok(listed && listed.revokedAt > 0);
  });

  it("says why when the key is missing, wrong, or the request is wrong", async () => {
    const none = await baton(["keys", "list"], { env });
    assert.equal(none.code, 1);
    assert.match(none.stderr, /not authenticated/);
    const reader = JSON.parse((await baton(["keys", "create", "--role", "reader", "-o", "json", "--token", admin], { env })).stdout) as { key: string };
    const denied = await baton(["keys", "list", "--token", reader.key], { env });
    assert.equal(denied.code, 1);
    assert.match(denied.stderr, /permission denied/);
    const noTypes = await baton(["keys", "create", "--role", "worker", "--token", admin], { env });
    assert.equal(noTypes.code, 2);
    assert.match(noTypes.stderr, /--task-types/);
    const badRole = await baton(["keys", "create", "--role", "root", "--token", admin], { env });
    assert.equal(badRole.code, 2);
    const unknown = await baton(["keys", "revoke", "zzzzzzzzzzzz", "--token", admin], { env });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /not found/);
  });
});
