// baton route and publish --canary against a real server: a TS flow's
// declared rollout, a JSON flow with --canary, promote, rollback, history,
// status, -o json, refusals with their exit codes, and a run that says why it
// got its version.
import assert from "node:assert/strict";
import path from "node:path";
import { after, before, describe, test } from "node:test";
import { json, removeDir, startTestServer, tempProject, writeFile, type TestServer } from "./support.js";

const pretty = (v: unknown) => JSON.stringify(v, null, 2) + "\n";

const checkout = (description: string) => ({
  name: "cli_checkout",
  description,
  version: 1,
  schemaVersion: 2,
  tasks: [{ name: "mark", taskReferenceName: "mark", type: "SET_VARIABLE", inputParameters: { seen: true } }],
  outputParameters: { ok: true },
});

const billing = (note: string) => `import { workflow } from "@baton/sdk";

export const bill = workflow("cli_bill", {
  description: "${note}",
  rollout: { canary: 20, sticky: "\${workflow.input.customerId}", guard: { maxFailureRateIncrease: 10, minEndedRuns: 50 } },
})
  .input<{ customerId: string }>("customerId")
  .steps((wf) => {
    wf.noop({ ref: "mark" });
    return { customer: wf.input.customerId };
  });
`;

describe("baton route", () => {
  let s: TestServer;
  let dir: string;

  before(async () => {
    s = await startTestServer();
    dir = tempProject({ "flows/checkout.json": pretty(checkout("v1")), "flows/bill.ts": billing("v1") });
  });

  after(async () => {
    await s?.close();
    if (dir) removeDir(dir);
  });

  test("publish --canary routes a share to each new version; the first version takes everything", async () => {
    const first = await s.cli(["publish", "--canary", "10", path.join(dir, "flows/checkout.json")], { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stdout, /^cli_checkout: registered version 1$/m);
    assert.match(first.stderr, /version 1 is the first: it takes every start, no canary/);

    writeFile(dir, "flows/checkout.json", pretty(checkout("v2")));
    const second = await s.cli(["publish", "--canary", "10", path.join(dir, "flows/checkout.json")], { cwd: dir });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^cli_checkout: registered version 2; route v1=90% v2=10%$/m);

    const got = await s.cli(["route", "get", "cli_checkout", "-o", "json"]);
    assert.equal(got.code, 0, got.stderr);
    assert.deepEqual(json(got.stdout).weights, [
      { version: 1, weight: 90 },
      { version: 2, weight: 10 },
    ]);
    assert.equal(json(got.stdout).stableVersion, 1);
  });

  test("a TS flow's declared rollout is applied by publish and never registered", async () => {
    const first = await s.cli(["publish", path.join(dir, "flows/bill.ts")], { cwd: dir });
    assert.equal(first.code, 0, first.stderr);
    writeFile(dir, "flows/bill.ts", billing("v2"));
    const second = await s.cli(["publish", path.join(dir, "flows/bill.ts")], { cwd: dir });
    assert.equal(second.code, 0, second.stderr);
    assert.match(second.stdout, /^cli_bill: registered version 2; route v1=80% v2=20%$/m);
    const route = json((await s.cli(["route", "get", "cli_bill", "-o", "json"])).stdout);
    assert.equal(route.sticky, "${workflow.input.customerId}");
    assert.deepEqual(route.guard, { maxFailureRateIncrease: 10, minEndedRuns: 50, windowSeconds: 0 });
    const def = json((await s.cli(["defs", "cli_bill", "--version", "2"])).stdout);
    assert.equal(def.rollout, undefined, "rollout is not part of the registered definition");
    // Publishing the same file again changes nothing: rollout is not content.
    const third = await s.cli(["publish", path.join(dir, "flows/bill.ts")], { cwd: dir });
    assert.match(third.stdout, /^cli_bill: unchanged \(version 2\)$/m);
  });

  test("a run says which route revision chose its version; search filters by version", async () => {
    await s.cli(["route", "set", "cli_checkout", "1=0", "2=100"]);
    const started = await s.cli(["start", "cli_checkout", "--wait", "-o", "json"]);
    assert.equal(started.code, 0, started.stderr);
    const run = json<{ workflowId: string; workflowVersion: number; route: { reason: string } }>(started.stdout);
    assert.equal(run.workflowVersion, 2);
    assert.equal(run.route.reason, "weight");
    const text = await s.cli(["get", run.workflowId]);
    assert.match(text.stdout, /version\s+2 \(route revision \d+: 100% by weight\)/);
    const found = await s.cli(["search", "--name", "cli_checkout", "--version", "1", "-o", "json"]);
    assert.equal(found.code, 0, found.stderr);
    assert.equal(json(found.stdout).totalHits, 0);
    const v2 = await s.cli(["search", "--name", "cli_checkout", "--version", "2", "-o", "json"]);
    assert.deepEqual(
      json<{ results: { workflowId: string }[] }>(v2.stdout).results.map((r) => r.workflowId),
      [run.workflowId],
    );
  });

  test("set, promote, rollback, history and status", async () => {
    const set = await s.cli(["route", "set", "cli_checkout", "v1=50", "v2=50", "--guard-margin", "5", "--guard-min-runs", "30", "--note", "half and half"]);
    assert.equal(set.code, 0, set.stderr);
    assert.match(set.stdout, /route cli_checkout \(revision \d+\): v1=50% v2=50%/);
    assert.match(set.stdout, /guard: roll back when a canary fails 5 points more than the stable version over 30\+ ended runs/);
    const promoted = await s.cli(["route", "promote", "cli_checkout", "2"]);
    assert.equal(promoted.code, 0, promoted.stderr);
    assert.match(promoted.stdout, /v2=100%; stable version 2/);
    const rolled = await s.cli(["route", "rollback", "cli_checkout", "--note", "paging"]);
    assert.equal(rolled.code, 0, rolled.stderr);
    assert.match(rolled.stdout, /v1=100%; stable version 1/);
    const history = await s.cli(["route", "history", "cli_checkout"]);
    assert.match(history.stdout, /^REV\s+TIME\s+ACTION\s+BY\s+WEIGHTS\s+NOTE$/m);
    assert.match(history.stdout, /rollback\s+anonymous\s+v1=100%\s+paging/);
    const status = await s.cli(["route", "status", "cli_checkout", "-o", "json"]);
    assert.equal(status.code, 0, status.stderr);
    const v2 = json<{ versions: { version: number; completed: number }[] }>(status.stdout).versions.find((v) => v.version === 2);
    assert.ok(v2 && v2.completed >= 1);
    const table = await s.cli(["route", "status", "cli_checkout"]);
    assert.match(table.stdout, /^VERSION\s+WEIGHT\s+STARTED\s+RUNNING\s+COMPLETED\s+FAILED/m);
  });

  test("refusals name the field, exit non-zero and change nothing", async () => {
    const before = json((await s.cli(["route", "get", "cli_checkout", "-o", "json"])).stdout);
    const sum = await s.cli(["route", "set", "cli_checkout", "1=60", "2=60"]);
    assert.equal(sum.code, 1);
    assert.match(sum.stderr, /weights: weights sum to 120, not 100/);
    const unknown = await s.cli(["route", "set", "cli_checkout", "1=50", "9=50"]);
    assert.match(unknown.stderr, /weights\[1\]\.version: version 9 is not registered/);
    const sticky = await s.cli(["route", "set", "cli_checkout", "1=100", "--sticky", "customerId"]);
    assert.match(sticky.stderr, /sticky: "customerId" is not one \$\{\.\.\.\} expression/);
    const promote = await s.cli(["route", "promote", "cli_checkout", "2"]);
    // Refused for the route's state, not a run's: the words say so.
    assert.match(promote.stderr, /^error: not possible now: version: 2 is not in the route of cli_checkout/);
    const word = await s.cli(["route", "set", "cli_checkout", "one=100"]);
    assert.equal(word.code, 2);
    assert.match(word.stderr, /"one=100" is not VERSION=PERCENT/);
    const after = json((await s.cli(["route", "get", "cli_checkout", "-o", "json"])).stdout);
    assert.deepEqual(after, before);
    const none = await s.cli(["route", "get", "no_such_flow"]);
    assert.equal(none.code, 0);
    assert.match(none.stdout, /no_such_flow has no route: starts without a version get the latest version/);
    // A name no workflow has: a typo, most likely, and said so.
    assert.equal(none.stderr, 'warning: no workflow "no_such_flow" is registered: check the name (`baton defs` lists them)\n');
    const noStatus = await s.cli(["route", "status", "no_such_flow"]);
    assert.equal(noStatus.code, 0);
    assert.equal(noStatus.stderr, 'warning: no workflow "no_such_flow" is registered: check the name (`baton defs` lists them)\n');
  });
});
