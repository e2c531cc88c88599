// The runs list in each of its orders (start, end, workflow name, status;
// either way): paging through every run with small pages returns each run
// exactly once, in the order asked, ties (runs started or ended in the same
// millisecond, on the test's clock) broken by start time and then id; the
// same under a filter; and an unknown order, a conflicting oldest_first or a
// page token of another order refused naming the field.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { grpc, RunOrder, WorkflowStatus, type SearchWorkflowsRequestSchema, type Workflow } from "@baton/protocol";
import { startHarness, type Harness } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

let h: Harness;

const waiting = (name: string) => flowOf(name, [{ name: "hold", taskReferenceName: "hold", type: "WAIT" }]);
const instant = flowOf("order_c", [{ name: "set", taskReferenceName: "set", type: "SET_VARIABLE", inputParameters: { x: 1 } }]);

before(async () => {
  h = await startHarness();
  for (const def of [waiting("order_a"), waiting("order_b"), instant]) await h.client.registerWorkflowDef(def);
  // Ties on purpose: runs start in the same millisecond, and end in the same one.
  const a = [],
    b = [];
  for (let i = 0; i < 4; i++) a.push(await h.client.startWorkflow("order_a", {}));
  for (let i = 0; i < 3; i++) b.push(await h.client.startWorkflow("order_b", {}));
  for (let i = 0; i < 3; i++) await h.client.startWorkflow("order_c", {});
  await h.advance(1000);
  for (let i = 0; i < 3; i++) a.push(await h.client.startWorkflow("order_a", {}));
  for (let i = 0; i < 2; i++) b.push(await h.client.startWorkflow("order_b", {}));
  await h.advance(1000);
  await h.client.pauseWorkflow(a[0]!);
  await h.client.pauseWorkflow(b[3]!);
  for (const id of [a[1]!, a[5]!, b[0]!]) await h.client.terminateWorkflow(id, "ended by the test");
  await h.advance(1000);
  await h.client.terminateWorkflow(b[1]!, "ended later by the test");
  await h.settle();
});

after(async () => {
  await h?.close();
});

type Key = (w: Workflow) => (string | bigint)[];
const statusName = (w: Workflow) => WorkflowStatus[w.status];
const KEYS: Record<string, { order: RunOrder; key: Key; ascending: boolean }> = {
  "start-desc": { order: RunOrder.START_DESC, key: (w) => [w.createTimeMs, w.workflowId], ascending: false },
  "start-asc": { order: RunOrder.START_ASC, key: (w) => [w.createTimeMs, w.workflowId], ascending: true },
  "end-desc": { order: RunOrder.END_DESC, key: (w) => [w.endTimeMs, w.workflowId], ascending: false },
  "end-asc": { order: RunOrder.END_ASC, key: (w) => [w.endTimeMs, w.workflowId], ascending: true },
  "name-asc": { order: RunOrder.NAME_ASC, key: (w) => [w.workflowName, w.createTimeMs, w.workflowId], ascending: true },
  "name-desc": { order: RunOrder.NAME_DESC, key: (w) => [w.workflowName, w.createTimeMs, w.workflowId], ascending: false },
  "status-asc": { order: RunOrder.STATUS_ASC, key: (w) => [statusName(w), w.createTimeMs, w.workflowId], ascending: true },
  "status-desc": { order: RunOrder.STATUS_DESC, key: (w) => [statusName(w), w.createTimeMs, w.workflowId], ascending: false },
};

function sorted(runs: Workflow[], key: Key, ascending: boolean): string[] {
  const cmp = (x: Workflow, y: Workflow) => {
    const [kx, ky] = [key(x), key(y)];
    for (let i = 0; i < kx.length; i++) if (kx[i] !== ky[i]) return kx[i]! < ky[i]! ? -1 : 1;
    return 0;
  };
  return [...runs].sort((x, y) => (ascending ? cmp(x, y) : cmp(y, x))).map((w) => w.workflowId);
}

async function pageThrough(req: MessageInitShape<typeof SearchWorkflowsRequestSchema>, pageSize: number): Promise<string[]> {
  const ids: string[] = [];
  let pageToken = "";
  for (let pages = 0; pages < 100; pages++) {
    const page = await h.client.workflows.searchWorkflows({ ...req, pageSize, pageToken });
    assert.ok(page.workflows.length <= pageSize);
    ids.push(...page.workflows.map((w) => w.workflowId));
    pageToken = page.nextPageToken;
    if (!pageToken) return ids;
  }
  assert.fail("paging did not end");
}

/** The refusal's wording (an INVALID_ARGUMENT's details). */
async function refusal(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    const { code, details } = error as { code?: number; details?: string };
    assert.equal(code, grpc.status.INVALID_ARGUMENT, String(error));
    return details ?? "";
  }
  assert.fail("the call was not refused");
}

describe("the runs list's orders", () => {
  it("pages through every run exactly once in each order, ties broken by start time then id", async () => {
    const all = (await h.client.workflows.searchWorkflows({ pageSize: 1000 })).workflows;
    assert.equal(all.length, 15);
    // The data has the ties the orders must break, and every status the test set.
    assert.ok(new Set(all.map((w) => w.createTimeMs)).size < all.length, "runs started in the same millisecond");
    assert.deepEqual([...new Set(all.map(statusName))].sort(), ["COMPLETED", "PAUSED", "RUNNING", "TERMINATED"]);
    for (const [name, { order, key, ascending }] of Object.entries(KEYS)) {
      const expected = sorted(all, key, ascending);
      for (const pageSize of [1, 2, 4, 1000]) {
        const ids = await pageThrough({ order }, pageSize);
        assert.deepEqual(ids, expected, `${name}, pages of ${pageSize}`);
      }
    }
    // Ends: not-ended runs (end 0) last when newest ended first.
    const endDesc = (await h.client.workflows.searchWorkflows({ order: RunOrder.END_DESC, pageSize: 1000 })).workflows;
    assert.ok(endDesc[0]!.endTimeMs > 0n && endDesc[endDesc.length - 1]!.endTimeMs === 0n);
    // oldest_first alone is still the start order, oldest first.
    assert.deepEqual(await pageThrough({ oldestFirst: true }, 3), sorted(all, KEYS["start-asc"]!.key, true));
  });

  it("keeps the order under filters, and the filtered counts are the same whatever the order", async () => {
    const all = (await h.client.workflows.searchWorkflows({ pageSize: 1000 })).workflows;
    const ofA = all.filter((w) => w.workflowName === "order_a");
    assert.deepEqual(await pageThrough({ name: "order_a", order: RunOrder.STATUS_DESC }, 2), sorted(ofA, KEYS["status-desc"]!.key, false));
    const ended = all.filter((w) => statusName(w) === "TERMINATED" || statusName(w) === "COMPLETED");
    assert.deepEqual(
      await pageThrough({ statuses: [WorkflowStatus.TERMINATED, WorkflowStatus.COMPLETED], order: RunOrder.END_ASC }, 2),
      sorted(ended, KEYS["end-asc"]!.key, true),
    );
    const running = all.filter((w) => statusName(w) === "RUNNING" || statusName(w) === "PAUSED");
    assert.deepEqual(
      await pageThrough({ statuses: [WorkflowStatus.RUNNING, WorkflowStatus.PAUSED], order: RunOrder.NAME_DESC }, 3),
      sorted(running, KEYS["name-desc"]!.key, false),
    );
    const counts = await h.client.workflows.countWorkflows({ name: "order_a" });
    assert.equal(
      counts.counts.reduce((n, c) => n + Number(c.count), 0),
      ofA.length,
    );
  });

  it("refuses an unknown order, oldest_first with an order, and a page token of another order, naming the field", async () => {
    const unknown = await refusal(h.client.workflows.searchWorkflows({ order: 99 as RunOrder }));
    assert.match(unknown, /order 99 is not a runs list order: use one of RUN_ORDER_START_DESC, .*RUN_ORDER_STATUS_DESC/);
    const both = await refusal(h.client.workflows.searchWorkflows({ order: RunOrder.END_DESC, oldestFirst: true }));
    assert.match(both, /oldest_first is for the default order: with order RUN_ORDER_END_DESC leave it unset/);
    const first = await h.client.workflows.searchWorkflows({ order: RunOrder.END_DESC, pageSize: 2 });
    assert.ok(first.nextPageToken);
    const other = await refusal(h.client.workflows.searchWorkflows({ order: RunOrder.NAME_ASC, pageSize: 2, pageToken: first.nextPageToken }));
    assert.match(other, /page_token was issued for order end-desc, not name-asc: start again without it/);
    const forged = await refusal(h.client.workflows.searchWorkflows({ pageToken: "bm90IGEgdG9rZW4" }));
    assert.match(forged, /page_token is not one this server issued/);
  });
});
