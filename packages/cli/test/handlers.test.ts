// baton handlers and event handler files in baton publish, against a real server.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { BatonClient } from "@baton/client";
import { json, removeDir, startTestServer, tempProject, type TestServer } from "./support.js";

const pretty = (v: unknown) => JSON.stringify(v, null, 2) + "\n";

const handler = {
  name: "cli_on_done",
  event: "cli:done",
  condition: "$.ok === true",
  evaluatorType: "javascript",
  actions: [{ action: "complete_task", complete_task: { workflowId: "${runId}", taskRefName: "gate" } }],
  active: true,
};

describe("baton handlers", () => {
  let s: TestServer;
  let dir: string;

  before(async () => {
    s = await startTestServer();
    dir = tempProject({
      "handlers/done.json": pretty(handler),
      "bad/broken.json": pretty({ name: "cli_broken", actions: [{ action: "explode" }] }),
      "flows/gate.json": pretty({ name: "cli_gate", version: 1, schemaVersion: 2, tasks: [{ name: "gate", taskReferenceName: "gate", type: "WAIT" }] }),
      "flows/handler.json": pretty({ ...handler, name: "cli_from_publish" }),
    });
  });

  after(async () => {
    await s?.close();
    if (dir) removeDir(dir);
  });

  test("put, list, get, send-event, delete", async () => {
    const put = await s.cli(["handlers", "put", path.join(dir, "handlers/done.json")]);
    assert.equal(put.code, 0, put.stderr);
    assert.match(put.stdout, /^handler cli_on_done: registered$/m);
    const again = await s.cli(["handlers", "put", path.join(dir, "handlers/done.json"), "-o", "json"], { cwd: dir });
    assert.deepEqual(json(again.stdout), { ok: true, eventHandlers: [{ name: "cli_on_done", source: "handlers/done.json", status: "unchanged" }] });

    const listed = await s.cli(["handlers"]);
    assert.equal(listed.code, 0, listed.stderr);
    assert.match(listed.stdout, /cli_on_done\s+cli:done\s+yes\s+complete_task\s+\$\.ok === true/);
    assert.deepEqual(json<unknown[]>((await s.cli(["handlers", "list", "--event", "cli:done", "-o", "json"])).stdout), [handler]);
    assert.deepEqual(json((await s.cli(["handlers", "get", "cli_on_done"])).stdout), handler);

    const sent = await s.cli(["handlers", "send-event", "cli:done", "--payload", '{"ok":false}', "-o", "json"]);
    assert.equal(sent.code, 0, sent.stderr);
    assert.equal(json(sent.stdout)["activeHandlers"], 1);

    const deleted = await s.cli(["handlers", "delete", "cli_on_done"]);
    assert.equal(deleted.code, 0, deleted.stderr);
    const missing = await s.cli(["handlers", "get", "cli_on_done"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /not found/);
  });

  test("an invalid handler file: exit 4 with the file and JSON path, nothing sent", async () => {
    const bad = await s.cli(["handlers", "put", path.join(dir, "bad/broken.json")], { cwd: dir });
    assert.equal(bad.code, 4);
    assert.match(bad.stderr, /bad\/broken\.json: \/event: event is required/);
    assert.match(bad.stderr, /bad\/broken\.json: \/actions\/0\/action: unknown action "explode"/);
    assert.equal((await s.cli(["handlers", "get", "cli_broken"])).code, 1);
  });

  test("the list follows the server's pages (at most 1000 a page): every handler is listed", async () => {
    const client = new BatonClient({ address: s.address, token: "", tls: false });
    try {
      const names = Array.from({ length: 1001 }, (_, i) => `cli_paged_${String(i).padStart(4, "0")}`);
      for (let i = 0; i < names.length; i += 50)
        await Promise.all(names.slice(i, i + 50).map((name) => client.registerEventHandler({ ...handler, name, event: `cli:paged:${name}` })));
    } finally {
      client.close();
    }
    const listed = await s.cli(["handlers", "-o", "json"]);
    assert.equal(listed.code, 0, listed.stderr);
    const paged = json<{ name: string }[]>(listed.stdout).filter((h) => h.name.startsWith("cli_paged_"));
    assert.equal(paged.length, 1001);
  });

  test("baton publish registers event handler files next to workflows", async () => {
    const first = await s.cli(["publish", path.join(dir, "flows")], { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^cli_gate: registered version 1$/m);
    assert.match(first.stdout, /^handler cli_from_publish: registered$/m);
    const dry = await s.cli(["publish", "--dry-run", "--exit-code", path.join(dir, "flows")], { cwd: dir });
    assert.equal(dry.code, 0, dry.stdout + dry.stderr);
    assert.match(dry.stdout, /^handler cli_from_publish: unchanged$/m);
  });
});
