// Routes over two replicas on one database: the split by weight, sticky keys,
// starts during a change, the guard's rollback (with the test clock), what a
// run records, and refusals that change nothing.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { BatonClient } from "@baton/client";
import { ManualClock, type BatonServer } from "@baton/server";
import { eventually } from "../support/harness.js";
import { startTwoReplicas, type TwoReplicas } from "../support/replicas.js";
import { flowOf } from "../support/flows.js";
import { statementsDuring } from "../support/statements.js";

/** A flow that ends at once, COMPLETED or (with fail) FAILED, tagged with its version. */
function flow(name: string, version: number, fail = false) {
  return {
    name,
    version,
    schemaVersion: 2,
    tasks: [
      fail
        ? {
            name: "stop",
            taskReferenceName: "stop",
            type: "TERMINATE",
            inputParameters: { terminationStatus: "FAILED", terminationReason: "canary is broken" },
          }
        : { name: "mark", taskReferenceName: "mark", type: "SET_VARIABLE", inputParameters: { version } },
    ],
    outputParameters: { version },
  };
}

const clock = new ManualClock();
let replicas: TwoReplicas;
let a: BatonServer;
let b: BatonServer;
let ca: BatonClient;
let cb: BatonClient;

before(async () => {
  replicas = await startTwoReplicas({ clock });
  ({ a, b, ca, cb } = replicas);
});

after(() => replicas.close());

async function register(name: string, versions: number[], failing: number[] = []): Promise<void> {
  for (const v of versions) await ca.registerWorkflowDef(flow(name, v, failing.includes(v)));
}

/** Starts `n` runs without a version, alternating replicas, `parallel` at a time; returns their ids. */
async function startMany(name: string, n: number, input: (i: number) => object = () => ({}), parallel = 32): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i += parallel) {
    const batch = Array.from({ length: Math.min(parallel, n - i) }, (_, j) => ((i + j) % 2 === 0 ? ca : cb)).map((client, j) =>
      client.startWorkflow(name, input(i + j)),
    );
    ids.push(...(await Promise.all(batch)));
  }
  return ids;
}

const versionsOf = async (ids: string[]) => Promise.all(ids.map(async (id) => (await ca.getWorkflow(id, { includeTasks: false })).workflowVersion));

describe("routes", () => {
  it("splits 10,000 starts 90/10 over two replicas within 1%, and each run records the choice", async () => {
    await register("split", [1, 2, 3]);
    await ca.setRoute("split", {
      weights: [
        { version: 1, weight: 90 },
        { version: 2, weight: 10 },
      ],
    });
    // Both replicas see the route before the count starts.
    await eventually(
      () => cb.getRoute("split"),
      (r) => r?.revision === 1,
    );
    await startMany("split", 10_000);
    const status = await ca.routeStatus("split");
    const started = (v: number) => status.versions.find((x) => x.version === v)?.started ?? 0;
    assert.equal(started(1) + started(2), 10_000, "every start went to a routed version");
    assert.equal(started(3), 0, "the latest version outside the route got nothing");
    const share = started(2) / 10_000;
    assert.ok(share >= 0.09 && share <= 0.11, `canary share ${share} is within 10% +- 1%`);

    const [id] = await ca.searchWorkflows({ name: "split", version: 2, pageSize: 1 }).then((r) => r.workflows.map((w) => w.workflowId));
    const run = await cb.getWorkflow(id!);
    assert.equal(run.workflowVersion, 2);
    assert.deepEqual(run.route, { revision: 1, weight: 10, reason: "weight" });
    // An explicit version bypasses the route and records no route.
    const pinned = await cb.getWorkflow(await ca.startWorkflow("split", {}, { version: 3 }));
    assert.equal(pinned.workflowVersion, 3);
    assert.equal(pinned.route, undefined);
  });

  it("keeps a sticky key on its version while that version stays in the route, across replicas and weight changes", async () => {
    await register("sticky", [1, 2]);
    await ca.setRoute("sticky", {
      weights: [
        { version: 1, weight: 70 },
        { version: 2, weight: 30 },
      ],
      sticky: "${workflow.input.customerId}",
    });
    const keys = Array.from({ length: 100 }, (_, i) => `customer-${i}`);
    const first = await versionsOf(await startMany("sticky", keys.length, (i) => ({ customerId: keys[i] })));
    assert.ok(first.includes(1) && first.includes(2), "keys are spread over both versions");
    // Again through the other replica first: same versions.
    const again = await versionsOf(await startMany("sticky", keys.length, (i) => ({ customerId: keys[i] })));
    assert.deepEqual(again, first);
    // The weights move but both versions stay routed: no key changes version.
    await cb.setRoute("sticky", {
      weights: [
        { version: 1, weight: 10 },
        { version: 2, weight: 90 },
      ],
      sticky: "${workflow.input.customerId}",
    });
    await eventually(
      () => ca.getRoute("sticky"),
      (r) => r?.revision === 2,
    );
    await new Promise((r) => setTimeout(r, 50)); // let the notification drop both replicas' cached route
    const afterChange = await versionsOf(await startMany("sticky", keys.length, (i) => ({ customerId: keys[i] })));
    assert.deepEqual(afterChange, first);
    const run = await ca.getWorkflow((await ca.searchWorkflows({ name: "sticky", pageSize: 1 })).workflows[0]!.workflowId);
    assert.equal(run.route?.reason, "sticky");
    assert.ok(run.route?.stickyKey?.startsWith("customer-"));
    // Once version 1 leaves the route, its keys move; everyone gets version 2.
    await ca.promoteRoute("sticky", 2);
    await new Promise((r) => setTimeout(r, 50));
    const promoted = await versionsOf(await startMany("sticky", keys.length, (i) => ({ customerId: keys[i] })));
    assert.ok(promoted.every((v) => v === 2));
  });

  it("gives each start during a route change the old or the new route's version, never another", async () => {
    await register("change", [1, 2, 3, 4]);
    await ca.setRoute("change", {
      weights: [
        { version: 1, weight: 50 },
        { version: 2, weight: 50 },
      ],
    });
    const starts = startMany("change", 600, () => ({}), 16);
    await new Promise((r) => setTimeout(r, 20));
    await cb.setRoute("change", {
      weights: [
        { version: 2, weight: 50 },
        { version: 3, weight: 50 },
      ],
    });
    const versions = await versionsOf(await starts);
    assert.ok(
      versions.every((v) => v >= 1 && v <= 3),
      "version 4 (the latest, outside both routes) is never chosen",
    );
    // Within a bound, both replicas follow the new route only.
    await eventually(
      async () => versionsOf(await startMany("change", 40)),
      (vs) => vs.every((v) => v === 2 || v === 3),
    );
  });

  it("follows the child's route for a sub-workflow started without a version", async () => {
    await register("child", [1, 2, 3]);
    await ca.setRoute("child", { weights: [{ version: 2, weight: 100 }] });
    await ca.registerWorkflowDef(
      flowOf("parent", [{ name: "child", taskReferenceName: "child", type: "SUB_WORKFLOW", subWorkflowParam: { name: "child" } }], {
        childVersion: "${child.output.version}",
      }),
    );
    const id = await ca.startWorkflow("parent", {});
    await a.settle();
    const run = await eventually(
      () => ca.getWorkflow(id),
      (r) => r.status === "COMPLETED",
    );
    assert.equal(run.output["childVersion"], 2);
  });

  it("rolls a failing canary back by itself, once, and says so in the history and the metrics", async () => {
    await register("guarded", [1, 2], [2]);
    await ca.setRoute("guarded", {
      weights: [
        { version: 1, weight: 50 },
        { version: 2, weight: 50 },
      ],
      guard: { maxFailureRateIncrease: 20, minEndedRuns: 10, windowSeconds: 600 },
    });
    // Not enough ended canary runs yet: nothing happens.
    await startMany("guarded", 4);
    await Promise.all([a.settle(), b.settle()]);
    assert.equal((await ca.getRoute("guarded"))?.revision, 1);

    await startMany("guarded", 80);
    clock.advance(1000);
    await Promise.all([a.settle(), b.settle()]);
    const route = await ca.getRoute("guarded");
    assert.deepEqual(route?.weights, [{ version: 1, weight: 100 }]);
    assert.equal(route?.updatedBy, "guard");
    const history = await cb.routeHistory("guarded");
    assert.equal(history.filter((h) => h.action === "guard-rollback").length, 1, "two replicas roll back once");
    assert.match(history[0]!.note, /version 2 failed 100\.0% of \d+ ended runs, stable version 1 0\.0%/);
    const metrics = (await a.metrics.text()) + (await b.metrics.text());
    assert.match(metrics, /baton_route_rollbacks_total\{workflow="guarded"\} 1/);
    assert.match(metrics, /baton_route_weight_percent\{workflow="guarded",version="1"\} 100/);
    assert.match(metrics, /baton_route_version_runs\{workflow="guarded",version="2",status="FAILED"\} \d+/);
    const status = await ca.routeStatus("guarded");
    assert.equal(status.versions.find((v) => v.version === 2)?.failureRate, 1);
    assert.equal(status.versions.find((v) => v.version === 1)?.failureRate, 0);
  });

  it("rolls back to the stable version, and after a promotion to the version before it", async () => {
    await register("rollout", [1, 2]);
    await ca.setRoute("rollout", {
      weights: [
        { version: 1, weight: 90 },
        { version: 2, weight: 10 },
      ],
    });
    // Ramping the canary up keeps version 1 stable.
    await ca.setRoute("rollout", {
      weights: [
        { version: 1, weight: 20 },
        { version: 2, weight: 80 },
      ],
    });
    assert.equal((await ca.getRoute("rollout"))?.stableVersion, 1);
    assert.deepEqual((await ca.rollbackRoute("rollout")).weights, [{ version: 1, weight: 100 }]);
    await ca.setRoute("rollout", {
      weights: [
        { version: 1, weight: 90 },
        { version: 2, weight: 10 },
      ],
    });
    assert.deepEqual((await ca.promoteRoute("rollout", 2)).weights, [{ version: 2, weight: 100 }]);
    assert.deepEqual((await cb.rollbackRoute("rollout", "bad deploy")).weights, [{ version: 1, weight: 100 }]);
    const history = await ca.routeHistory("rollout");
    assert.deepEqual(
      history.map((h) => h.action),
      ["rollback", "promote", "set", "rollback", "set", "set"],
    );
    assert.equal(history[0]!.note, "bad deploy");
  });

  it("refuses a bad route naming the field, and leaves the route as it was", async () => {
    await register("strict", [1, 2]);
    await ca.setRoute("strict", { weights: [{ version: 1, weight: 100 }] });
    const refuse = async (fn: () => Promise<unknown>, pattern: RegExp) => {
      await assert.rejects(fn, pattern);
      const route = await ca.getRoute("strict");
      assert.equal(route?.revision, 1);
      assert.deepEqual(route?.weights, [{ version: 1, weight: 100 }]);
    };
    await refuse(
      () =>
        ca.setRoute("strict", {
          weights: [
            { version: 1, weight: 90 },
            { version: 2, weight: 20 },
          ],
        }),
      /weights: weights sum to 110, not 100/,
    );
    await refuse(
      () =>
        ca.setRoute("strict", {
          weights: [
            { version: 1, weight: 90 },
            { version: 7, weight: 10 },
          ],
        }),
      /weights\[1\]\.version: version 7 is not registered/,
    );
    await refuse(
      () => ca.setRoute("strict", { weights: [{ version: 1, weight: 100 }], sticky: "${workflow.input.customerId" }),
      /sticky: .* is not one \$\{\.\.\.\} expression/,
    );
    await refuse(() => ca.setRoute("strict", { weights: [{ version: 1, weight: 100 }], sticky: "${workflow.input[?(@.a)]}" }), /sticky: .* plain path/);
    await refuse(() => ca.promoteRoute("strict", 2), /version: 2 is not in the route of strict/);
    await refuse(() => ca.setRoute("strict", { weights: [{ version: 2, weight: 100 }], expectedRevision: 7 }), /at revision 1, not 7/);
    await assert.rejects(() => ca.setRoute("nothing", { weights: [{ version: 1, weight: 100 }] }), /no workflow definition nothing/);
    await assert.rejects(() => ca.searchWorkflows({ version: 1 }), /version filters one workflow's versions: give name too/);
    // Setting exactly what is there records nothing.
    assert.equal((await ca.setRoute("strict", { weights: [{ version: 1, weight: 100 }] })).changed, false);
    assert.equal((await ca.routeHistory("strict")).length, 1);
  });

  it("counts every route's versions for a metrics scrape in one statement, not a statement (and a route's read) a route", async () => {
    const names = ["scraped_a", "scraped_b", "scraped_c", "scraped_d"];
    for (const name of names) {
      await register(name, [1, 2]);
      await ca.setRoute(name, {
        weights: [
          { version: 1, weight: 50 },
          { version: 2, weight: 50 },
        ],
      });
      await startMany(name, 4);
    }
    // A scrape reads the routes' series again once the last read is a second old.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const statements: string[] = [];
    let text = "";
    await statementsDuring(
      async () => {
        text = await a.metrics.text();
      },
      (args) => {
        const first = args[0] as string | { text: string; values?: unknown[] };
        const sql = typeof first === "string" ? first : first.text;
        const values = (Array.isArray(args[1]) ? args[1] : typeof first === "string" ? [] : (first.values ?? [])) as unknown[];
        // The scrape's, of these routes (a guard's pass may count its own route meanwhile).
        if (names.some((name) => JSON.stringify(values).includes(`"${name}"`))) statements.push(sql.replace(/\s+/g, " ").slice(0, 60));
      },
    );
    assert.equal(statements.length, 1, `statements naming the routes: ${JSON.stringify(statements)}`);
    assert.match(statements[0]!, /count\(\*\)/);
    for (const name of names) {
      const runs = [...text.matchAll(new RegExp(`baton_route_version_runs\\{workflow="${name}",version="\\d",status="COMPLETED"\\} (\\d+)`, "g"))];
      assert.equal(
        runs.reduce((n, m) => n + Number(m[1]), 0),
        4,
        `${name}'s four runs, by version: ${runs.map((m) => m[0]).join(", ")}`,
      );
    }
  });
});
