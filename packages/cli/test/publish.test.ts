// baton publish against a real server: idempotent, one version per change,
// runs keep their version, local validation first, dry-run diffs.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { json, removeDir, startTestServer, tempProject, writeFile, type TestServer } from "./support.js";

const order = (description: string) => ({
  name: "cli_order",
  description,
  version: 1,
  tasks: [
    { name: "cli_pick", taskReferenceName: "pick", type: "SIMPLE", inputParameters: { sku: "${workflow.input.sku}" } },
    { name: "cli_pack", taskReferenceName: "pack", type: "SIMPLE", inputParameters: { item: "${pick.output.item}" } },
  ],
  inputParameters: ["sku"],
  outputParameters: { parcel: "${pack.output.parcel}" },
  schemaVersion: 2,
});

const pretty = (v: unknown) => JSON.stringify(v, null, 2) + "\n";

const SHIP_TS = `import { taskType, workflow } from "@baton/sdk";

export const label = taskType<{ parcel: string }, { tracking: string }>("cli_label", { retryCount: 1, timeoutSeconds: 60, responseTimeoutSeconds: 30 });

export const ship = workflow("cli_ship", { description: "print a label" })
  .input<{ parcel: string }>("parcel")
  .steps((wf) => {
    const l = label.step("label", { parcel: wf.input.parcel });
    return { tracking: l.output.tracking };
  });
`;

describe("baton publish", () => {
  let s: TestServer;
  let dir: string;
  const flows = () => path.join(dir, "flows");

  before(async () => {
    s = await startTestServer();
    dir = tempProject({
      "flows/order.json": pretty(order("pick and pack")),
      "flows/tasks.json": pretty({
        taskDefs: [
          { name: "cli_pick", retryCount: 2, timeoutSeconds: 60, responseTimeoutSeconds: 30 },
          { name: "cli_pack", retryCount: 2, timeoutSeconds: 60, responseTimeoutSeconds: 30 },
        ],
      }),
      "flows/ship.ts": SHIP_TS,
      "flows/notes.json": pretty({ note: "not a definition: skipped" }),
    });
  });

  after(async () => {
    await s?.close();
    if (dir) removeDir(dir);
  });

  test("a directory twice: registers once, then everything is unchanged", async () => {
    const first = await s.cli(["publish", flows()], { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^cli_order: registered version 1$/m);
    assert.match(first.stdout, /^cli_ship: registered version 1$/m);
    assert.match(first.stdout, /^task cli_pick: registered$/m);
    assert.match(first.stdout, /^task cli_label: registered$/m);

    const second = await s.cli(["publish", flows()], { cwd: dir });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^cli_order: unchanged \(version 1\)$/m);
    assert.match(second.stdout, /^cli_ship: unchanged \(version 1\)$/m);
    assert.doesNotMatch(second.stdout, /registered/);

    const asJson = json<{ workflows: { name: string; status: string; version: number }[] }>(
      (await s.cli(["publish", flows(), "-o", "json"], { cwd: dir })).stdout,
    );
    assert.deepEqual(asJson.workflows.map((w) => [w.name, w.status, w.version]).sort(), [
      ["cli_order", "unchanged", 1],
      ["cli_ship", "unchanged", 1],
    ]);
  });

  test("a one-line change registers exactly one new version; a run started before keeps its version", async () => {
    const started = await s.cli(["start", "cli_order", "--input", '{"sku":"A-1"}']);
    assert.equal(started.code, 0, started.stderr);
    const runId = started.stdout.trim();

    const file = path.join(flows(), "order.json");
    writeFile(dir, "flows/order.json", readFileSync(file, "utf8").replace('"pick and pack"', '"pick, then pack"'));
    const published = await s.cli(["publish", flows()], { cwd: dir });
    assert.equal(published.code, 0, published.stderr);
    assert.deepEqual(published.stdout.match(/registered version \d+/g), ["registered version 2"]);
    assert.match(published.stdout, /^cli_order: registered version 2$/m);
    assert.match(published.stdout, /^cli_ship: unchanged/m);

    const versions = json<{ version: number; description: string }[]>((await s.cli(["defs", "cli_order", "-o", "json"])).stdout);
    assert.deepEqual(
      versions.map((v) => [v.version, v.description]),
      [
        [1, "pick and pack"],
        [2, "pick, then pack"],
      ],
    );

    const run = json<{ workflowVersion: number; workflowDefinition?: { description?: string } }>((await s.cli(["get", runId, "-o", "json"])).stdout);
    assert.equal(run.workflowVersion, 1);
    assert.equal(run.workflowDefinition?.description, "pick and pack");
    const fresh = await s.cli(["start", "cli_order", "--input", '{"sku":"A-2"}', "-o", "json"]);
    const freshRun = json<{ workflowVersion: number }>((await s.cli(["get", json<{ workflowId: string }>(fresh.stdout).workflowId, "-o", "json"])).stdout);
    assert.equal(freshRun.workflowVersion, 2);
    await s.cli(["terminate", runId]);
  });

  test("--dry-run shows the diff and registers nothing; --exit-code exits 3 only when something would change", async () => {
    const same = await s.cli(["publish", "--dry-run", "--exit-code", flows()], { cwd: dir });
    assert.equal(same.code, 0, same.stderr);
    assert.match(same.stdout, /^cli_order: unchanged \(version 2\)$/m);

    writeFile(dir, "flows/order.json", pretty(order("pick, then pack, carefully")));
    const changed = await s.cli(["publish", "--dry-run", "--exit-code", flows()], { cwd: dir });
    assert.equal(changed.code, 3, changed.stderr);
    assert.match(changed.stdout, /^cli_order: changed \(would register version 3\)$/m);
    assert.match(changed.stdout, /^ {2}- {2}"description": "pick, then pack",$/m);
    assert.match(changed.stdout, /^ {2}\+ {2}"description": "pick, then pack, carefully",$/m);
    assert.match(changed.stdout, /^cli_ship: unchanged/m);

    const withoutFlag = await s.cli(["publish", "--dry-run", flows()], { cwd: dir });
    assert.equal(withoutFlag.code, 0);

    const brandNew = tempProject({ "x/new.json": pretty({ ...order("new"), name: "cli_brand_new" }) });
    const fresh = await s.cli(["publish", "--dry-run", "--exit-code", path.join(brandNew, "x")]);
    assert.equal(fresh.code, 3);
    assert.match(fresh.stdout, /^cli_brand_new: new$/m);
    removeDir(brandNew);

    const versions = json<unknown[]>((await s.cli(["defs", "cli_order", "-o", "json"])).stdout);
    assert.equal(versions.length, 2, "a dry run registers nothing");
  });

  test("an invalid definition: exit 4, every error with its JSON path, nothing stored (not even the valid ones)", async () => {
    const bad = tempProject({
      "defs/bad.json": pretty({
        name: "cli_bad",
        tasks: [
          { name: "cli_pick", type: "SIMPLE" },
          { name: "route", taskReferenceName: "route", type: "SWITCH" },
        ],
      }),
      "defs/good.json": pretty({ ...order("fine"), name: "cli_fine" }),
    });
    const result = await s.cli(["publish", path.join(bad, "defs")], { cwd: bad });
    assert.equal(result.code, 4, result.stderr);
    assert.match(result.stderr, /defs\/bad\.json: \/tasks\/0\/taskReferenceName: /);
    assert.match(result.stderr, /defs\/bad\.json: \/tasks\/1\/expression: /);
    assert.match(result.stderr, /nothing was sent to the server/);

    const asJson = await s.cli(["publish", path.join(bad, "defs"), "-o", "json"], { cwd: bad });
    assert.equal(asJson.code, 4);
    const report = json<{ ok: boolean; errors: { file: string; path: string }[] }>(asJson.stdout);
    assert.equal(report.ok, false);
    assert.ok(report.errors.some((e) => e.path === "/tasks/0/taskReferenceName"));

    for (const name of ["cli_bad", "cli_fine"]) {
      const listed = await s.cli(["defs", name]);
      assert.equal(listed.code, 1, listed.stdout);
      assert.match(listed.stderr, new RegExp(`not found: no workflow definition named ${name}`));
    }

    writeFile(bad, "broken.json", '{"name": "x", "tasks": [');
    const broken = await s.cli(["publish", path.join(bad, "broken.json")], { cwd: bad });
    assert.equal(broken.code, 4);
    assert.match(broken.stderr, /broken\.json.*not valid JSON/);
    removeDir(bad);
  });

  test("usage errors exit 2", async () => {
    const missing = await s.cli(["publish", "/no/such/dir"]);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /no such file or directory/);
    const noArgs = await s.cli(["publish"]);
    assert.equal(noArgs.code, 2);
  });
});
