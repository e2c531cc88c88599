// ListQueues and ListWorkers answered every task type and every connected
// worker in one call (issue 14): a run waiting on thousands of task types, or
// a worker key polling under thousands of worker ids, made each call answer
// them all. They answer pages now (100 by default, at most 1000, an opaque
// token for the next); the client, the CLI, the console and Conductor's REST
// queue sizes follow the pages.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { grpc } from "@baton/protocol";
import { LIST_PAGE_BYTES } from "../../server/src/service/list-pages.js";
import { workerPage } from "../../server/src/service/worker-pages.js";
import { forkOfTasks } from "../support/flows.js";
import { startRestHarness, type Harness } from "../support/harness.js";

const TYPES = 1001;
const typeName = (i: number) => `qp_${String(i).padStart(4, "0")}`;

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (e: { code?: number; details?: string }) => `${grpc.status[e.code ?? 2]}: ${e.details ?? ""}`,
  );

describe("ListQueues and ListWorkers answer pages", () => {
  let h: Harness & { rest: string };
  before(async () => {
    h = await startRestHarness();
    // A run of a fork of 100 task types, one of each type queued; a run's definition is not large enough for all of them.
    for (let from = 0; from < TYPES; from += 100) {
      const branches = Object.fromEntries(Array.from({ length: Math.min(100, TYPES - from) }, (_, i) => [`b${i}`, typeName(from + i)]));
      await h.client.registerWorkflowDef(forkOfTasks(`queue_pages_${from}`, branches));
      await h.client.startWorkflow(`queue_pages_${from}`, {});
    }
    // A run's tasks are queued as its first decision is written, after the start is answered.
    while ((await h.client.queues()).length < TYPES) await new Promise((resolve) => setTimeout(resolve, 20));
  });
  after(() => h.close());

  it("queues: 100 a page by default, at most 1000, in task type order, the token continuing; the client reads them all", async () => {
    const first = await h.client.tasks.listQueues({});
    assert.equal(first.queues.length, 100, `${first.queues.length} queues in the first answer`);
    assert.deepEqual(
      first.queues.map((q) => q.taskType),
      Array.from({ length: 100 }, (_, i) => typeName(i)),
    );
    assert.ok(first.queues.every((q) => q.ready === 1n));
    const big = await h.client.tasks.listQueues({ pageSize: 5000 });
    assert.equal(big.queues.length, 1000);
    const rest = await h.client.tasks.listQueues({ pageSize: 5000, pageToken: big.nextPageToken });
    assert.deepEqual(
      rest.queues.map((q) => q.taskType),
      [typeName(1000)],
    );
    assert.equal(rest.nextPageToken, "");
    const all = await h.client.queues();
    assert.equal(new Set(all.map((q) => q.taskType)).size, TYPES);
  });

  it("queues of named task types only, in pages too", async () => {
    const named = await h.client.tasks.listQueues({ taskTypes: [typeName(7), "qp_unknown", typeName(3)], pageSize: 1 });
    assert.deepEqual(
      named.queues.map((q) => q.taskType),
      [typeName(3)],
    );
    const next = await h.client.tasks.listQueues({ taskTypes: [typeName(7), "qp_unknown", typeName(3)], pageSize: 1, pageToken: named.nextPageToken });
    assert.deepEqual(
      next.queues.map((q) => q.taskType),
      [typeName(7)],
    );
    assert.deepEqual(await h.client.queues([typeName(5)]), [{ taskType: typeName(5), ready: 1, delayed: 0, inProgress: 0 }]);
    // More than a call may name: the client asks a page's worth a call, as Conductor's queue sizes do.
    const every = Array.from({ length: TYPES }, (_, i) => typeName(i));
    assert.equal((await h.client.queues(every)).length, TYPES);
    const sizes = (await (await fetch(`${h.rest}/api/tasks/queue/sizes?taskType=${every.join(",")}`)).json()) as Record<string, number>;
    assert.equal(Object.values(sizes).filter((n) => n === 1).length, TYPES);
  });

  it("refuses a bad page token, a negative page size and too many or bad task types, naming the field", async () => {
    const { nextPageToken } = await h.client.metadata.listTaskDefs({ pageSize: 1 });
    assert.match(await codeOf(h.client.tasks.listQueues({ pageToken: nextPageToken || "x" })), /INVALID_ARGUMENT: page_token is not one this server issued/);
    assert.match(await codeOf(h.client.tasks.listWorkers({ pageToken: "nonsense" })), /INVALID_ARGUMENT: page_token is not one this server issued/);
    assert.match(await codeOf(h.client.tasks.listWorkers({ pageSize: -1 })), /INVALID_ARGUMENT: page_size must not be negative/);
    assert.match(
      await codeOf(h.client.tasks.listQueues({ taskTypes: Array.from({ length: 1001 }, (_, i) => typeName(i)) })),
      /INVALID_ARGUMENT: task_types names 1001 task types, over the 1000/,
    );
    assert.match(await codeOf(h.client.tasks.listQueues({ taskTypes: ["t".repeat(600)] })), /INVALID_ARGUMENT: task_types holds an empty name or one longer/);
  });

  it("Conductor's queue sizes still answer every queue, read page by page", async () => {
    const all = (await (await fetch(`${h.rest}/api/tasks/queue/all`)).json()) as Record<string, number>;
    assert.equal(Object.keys(all).filter((t) => t.startsWith("qp_")).length, TYPES);
    const one = (await (await fetch(`${h.rest}/api/tasks/queue/size?taskType=${typeName(1000)}`)).json()) as number;
    assert.equal(one, 1);
    const some = (await (await fetch(`${h.rest}/api/tasks/queue/sizes?taskType=${typeName(2)},qp_none`)).json()) as Record<string, number>;
    assert.deepEqual(some, { [typeName(2)]: 1, qp_none: 0 });
  });

  it("workers: 100 a page by default, in the order they connected, the token continuing; the client reads them all", async () => {
    for (let i = 0; i < 250; i++) await h.client.tasks.poll({ taskType: "wp_type", workerId: `wp_${i}`, count: 1, waitMs: 0n });
    const first = await h.client.tasks.listWorkers({ taskType: "wp_type" });
    assert.equal(first.workers.length, 100, `${first.workers.length} workers in the first answer`);
    const seen = first.workers.map((w) => w.workerId);
    let token = first.nextPageToken;
    while (token !== "") {
      const page = await h.client.tasks.listWorkers({ taskType: "wp_type", pageToken: token });
      seen.push(...page.workers.map((w) => w.workerId));
      token = page.nextPageToken;
    }
    assert.deepEqual(
      seen,
      Array.from({ length: 250 }, (_, i) => `wp_${i}`),
    );
    assert.equal((await h.client.workers("wp_type")).length, 250);
  });

  it("a page of workers ends once their names pass LIST_PAGE_BYTES, with at least one worker", () => {
    const types = Array.from({ length: 100 }, (_, t) => `${t}-`.padEnd(512, "x"));
    const workers = Array.from({ length: 200 }, (_, i) => ({
      id: i + 1,
      workerId: `w${i}`,
      taskTypes: types,
      kind: "dispatch" as const,
      freeSlots: 0,
      connectedAt: 0,
      lastSeenAt: 0,
      delivered: 0,
      replica: "r",
    }));
    const page = workerPage(workers, { limit: 1000 });
    const perWorker = 100 * 512 + 2;
    assert.equal(page.workers.length, Math.ceil(LIST_PAGE_BYTES / perWorker));
    assert.notEqual(page.nextPageToken, "");
  });
});
