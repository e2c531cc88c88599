// A caller that stops reading cannot make the server hold unbounded memory
// (issue 14). Before, every answer it asked for stayed in the server's memory
// until its connection closed: 100 task-log pages of 4 MiB over a connection
// that stopped reading took a server from 250 to 737 MB resident. Now answers
// written and not yet gone out share a budget (one connection a part of it);
// an answer with no room waits a bounded time and is refused, and a call
// whose answer stays unsent past a deadline is ended. Real sockets: a TCP
// relay that stops reading stands for the slow caller.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";
import { BatonClient } from "@baton/client";
import { answerBudgetOf, defaultAnswerBudget, serverOptionsFromEnv } from "@baton/server";
import { eventually, startHarness, type Harness } from "../support/harness.js";
import { relay } from "../support/relay.js";
import { flowOf } from "../support/flows.js";

const MiB = 1024 * 1024;
const BUDGET = { totalBytes: 16 * MiB, connectionBytes: 8 * MiB, waitMs: 10_000, unreadMs: 60_000, stalledMs: 5_000 };
const flow = flowOf("chatty_reader", [{ name: "chatter", taskReferenceName: "chatter", type: "SIMPLE" }]);

let h: Harness;
let taskId: string;
/** The bytes of one page of the task's log, as it goes out (about 4 MiB). */
let pageBytes: number;

before(async () => {
  h = await startHarness({ server: { answerBudget: BUDGET, conductor: { port: 0 }, console: { port: 0 } } });
  await h.client.registerTaskDefs([{ name: "chatter", retryCount: 0, responseTimeoutSeconds: 3600 }]);
  await h.client.registerWorkflowDef(flow);
  await h.client.startWorkflow(flow.name, {});
  const task = (await h.client.tasks.poll({ taskType: "chatter", workerId: "w", count: 1, waitMs: 5000n })).tasks[0]!;
  taskId = task.taskId;
  // Four lines of just under 1 MiB: one page of the log holds them all.
  for (let i = 0; i < 4; i++) await h.client.tasks.addTaskLog({ taskId, message: `${i}`.repeat(MiB - 1024), leaseToken: task.leaseToken });
  const page = await h.client.tasks.getTaskLogs({ taskId });
  assert.equal(page.logs.length, 4);
  pageBytes = page.logs.reduce((n, l) => n + l.message.length, 0);
});
after(() => h.close());

async function metric(name: string, labels: Record<string, string> = {}): Promise<number> {
  const values = (await h.server.metrics.registry.getSingleMetric(name)?.get())?.values ?? [];
  const found = values.find((v) => Object.entries(labels).every(([k, value]) => v.labels[k] === value));
  return found?.value ?? 0;
}
const held = () => metric("baton_unsent_answer_bytes");
const waiting = () => metric("baton_answers_waiting_bytes");

/** `n` calls for the log's page through a client that reads nothing; each settles with its page's line count or its error. */
function askPages(client: BatonClient, n: number): Promise<{ lines?: number; code?: number; message?: string }>[] {
  return Array.from({ length: n }, () =>
    client.tasks.getTaskLogs({ taskId }).then(
      (page) => ({ lines: page.logs.length }),
      (error: { code?: number; details?: string; message?: string }) => ({ code: error.code ?? -1, message: error.details ?? error.message ?? "" }),
    ),
  );
}

/** Until the server has answered (held, waiting or refused) every one of `calls` calls. */
async function allAnswered(calls: number) {
  const heldOrWaiting = async () => (await held()) + (await waiting()) + (await refusedNow()) * pageBytes;
  await eventually(heldOrWaiting, (bytes) => bytes >= calls * pageBytes * 0.99, 30_000);
}
const refusedTotal = async () =>
  (await metric("baton_answers_refused_total", { reason: "waiting" })) + (await metric("baton_answers_refused_total", { reason: "budget" }));
let refusedBefore = 0;
/** Answers refused since the test began. */
const refusedNow = async () => (await refusedTotal()) - refusedBefore;

/** `n` clients, each connected through a relay of its own that has stopped reading; refusals are counted from here. */
async function stalledClients(n: number) {
  const links = await Promise.all(Array.from({ length: n }, () => relay(h.server.address)));
  const clients = links.map((link) => new BatonClient({ address: link.address }));
  await Promise.all(clients.map((c) => c.tasks.listQueues({})));
  links.forEach((link) => link.stall());
  refusedBefore = await refusedTotal();
  return { links, clients };
}

describe("a caller that stops reading", () => {
  it("holds no more than a connection's share; its other answers wait, then are refused saying what to do; a polite caller is served meanwhile", async () => {
    const link = await relay(h.server.address);
    const slow = new BatonClient({ address: link.address });
    try {
      await slow.tasks.listQueues({}); // connected
      link.stall();
      refusedBefore = await refusedTotal();
      const calls = askPages(slow, 8);
      await allAnswered(8);
      const bytes = await held();
      assert.ok(bytes <= BUDGET.connectionBytes, `one connection holds ${bytes} bytes, over its share of ${BUDGET.connectionBytes}`);
      assert.ok(bytes >= pageBytes, "its first answers went out (to a socket that is not read)");
      assert.ok((await waiting()) <= BUDGET.totalBytes, "what waits for room is bounded too");

      // A polite caller on a connection of its own is served meanwhile, large answers too.
      const page = await h.client.tasks.getTaskLogs({ taskId });
      assert.equal(page.logs.length, 4);

      // Past the wait, the waiting answers are refused; once the caller reads, it gets what was sent and the refusals.
      await h.advance(BUDGET.waitMs);
      assert.equal(await waiting(), 0);
      link.resume();
      const outcomes = await Promise.all(calls);
      const served = outcomes.filter((o) => o.lines === 4).length;
      const refused = outcomes.filter((o) => o.code === 8); // RESOURCE_EXHAUSTED
      assert.equal(served + refused.length, 8, JSON.stringify(outcomes.filter((o) => o.lines !== 4 && o.code !== 8)));
      assert.ok(served >= 1 && served <= Math.max(1, Math.floor(BUDGET.connectionBytes / pageBytes)), `${served} answers were held at once`);
      assert.ok(refused.length >= 1, `${refused.length} refused`);
      for (const r of refused) {
        assert.match(r.message!, /have not read yet/);
        assert.match(r.message!, /Read the answers you asked for before asking for more, ask for smaller pages, and retry shortly/);
      }
      await eventually(held, (b) => b === 0);
    } finally {
      slow.close();
      link.close();
    }
  });

  it("on many connections, holds no more than the budget; their calls free their bytes when the connections close", async () => {
    const { links, clients } = await stalledClients(4);
    try {
      const calls = clients.flatMap((c) => askPages(c, 3));
      await allAnswered(12);
      const bytes = await held();
      assert.ok(bytes <= BUDGET.totalBytes, `the server holds ${bytes} bytes of unread answers, over its budget of ${BUDGET.totalBytes}`);
      assert.ok(bytes > BUDGET.connectionBytes, "more than one connection's share is held");
      assert.ok((await refusedNow()) >= 1, `answers beyond what may wait are refused at once (${await refusedNow()})`);

      // A small call is still served: small answers have an eighth more room.
      assert.ok((await h.client.tasks.listQueues({})).queues.length >= 1, "a small answer is served");

      links.forEach((link) => link.close());
      await eventually(held, (b) => b === 0);
      await eventually(waiting, (b) => b === 0, 15_000).catch(async () => {
        await h.advance(BUDGET.waitMs);
        assert.equal(await waiting(), 0);
      });
      await Promise.all(calls);
    } finally {
      clients.forEach((c) => c.close());
      links.forEach((link) => link.close());
    }
  });

  it("on many connections that fill the budget, has its calls ended once none of their answers went out for stalledMs, so a polite large answer is served", async () => {
    const { links, clients } = await stalledClients(4);
    try {
      const endedBefore = await metric("baton_stalled_calls_ended_total");
      // One page each: together just under the budget, every one unread.
      const calls = clients.flatMap((c) => askPages(c, 1));
      await allAnswered(4);
      assert.ok((await held()) > BUDGET.totalBytes - pageBytes, `the budget is full: ${await held()} bytes held`);
      // A polite caller's page finds no room and waits; the stalled calls are not ended before stalledMs.
      const polite = askPages(h.client, 1)[0]!;
      await eventually(waiting, (b) => b >= pageBytes);
      assert.equal(await metric("baton_stalled_calls_ended_total"), endedBefore, "nothing is ended before stalledMs");
      await h.advance(BUDGET.stalledMs);
      // Had nothing been ended, it would be refused once it waited waitMs.
      await h.advance(BUDGET.waitMs);
      assert.deepEqual(await polite, { lines: 4 }, "the polite caller is served its page");
      const ended = (await metric("baton_stalled_calls_ended_total")) - endedBefore;
      assert.ok(ended >= 1 && ended <= 2, `${ended} stalled calls were ended to make room for one page`);
      assert.ok((await held()) <= BUDGET.totalBytes);
      links.forEach((link) => link.resume());
      const outcomes = await Promise.all(calls);
      assert.equal(outcomes.filter((o) => o.code === 8).length, ended, JSON.stringify(outcomes)); // RESOURCE_EXHAUSTED
      assert.equal(outcomes.filter((o) => o.lines === 4).length, 4 - ended, JSON.stringify(outcomes));
      await eventually(held, (b) => b === 0);
    } finally {
      clients.forEach((c) => c.close());
      links.forEach((link) => link.close());
    }
  });

  it("has its calls ended when their answers stay unsent past the deadline, which frees their bytes", async () => {
    const link = await relay(h.server.address);
    const slow = new BatonClient({ address: link.address });
    try {
      await slow.tasks.listQueues({});
      link.stall();
      refusedBefore = await refusedTotal();
      const ended = await metric("baton_unread_calls_ended_total");
      const calls = askPages(slow, 2);
      await allAnswered(2);
      const bytes = await held();
      assert.ok(bytes >= 2 * pageBytes, `both answers are held: ${bytes} bytes (${await waiting()} waiting), a page being ${pageBytes}`);
      await h.advance(BUDGET.unreadMs - 1000);
      assert.equal(await held(), bytes, "not before the deadline");
      await h.advance(1000);
      assert.equal(await held(), 0);
      assert.equal((await metric("baton_unread_calls_ended_total")) - ended, 2);
      link.resume();
      for (const outcome of await Promise.all(calls)) assert.equal(outcome.code, 8, JSON.stringify(outcome)); // RESOURCE_EXHAUSTED
    } finally {
      slow.close();
      link.close();
    }
  });

  it("over Conductor's REST API, holds no more than the budget; its requests free their bytes when their connections close", async () => {
    const link = await relay(h.server.conductorAddress!);
    link.stall();
    refusedBefore = await refusedTotal();
    const [host, port] = link.address.split(":");
    // Each request on a connection of its own (no keep-alive): the budget, not a connection's share, bounds them.
    const requests = Array.from({ length: 8 }, () => http.get({ host, port: Number(port), path: `/api/tasks/${taskId}/log`, agent: false }));
    try {
      for (const request of requests) request.on("error", () => {}); // the relay's close ends them
      await eventually(
        async () => link.connections(),
        (n) => n === 8,
      );
      await allAnswered(8);
      const bytes = await held();
      assert.ok(bytes <= BUDGET.totalBytes && bytes >= 2 * pageBytes, `the server holds ${bytes} bytes of unread REST answers (budget ${BUDGET.totalBytes})`);
      assert.ok((await refusedNow()) >= 1, `answers beyond what may wait are refused at once (${await refusedNow()})`);
      link.close();
      await eventually(held, (b) => b === 0);
      await h.advance(BUDGET.waitMs);
      assert.equal(await waiting(), 0);
    } finally {
      link.close();
    }
  });

  it("over the console's Connect port, holds no more than the budget and refuses beyond it as Connect does; closing frees their bytes", async () => {
    const link = await relay(h.server.consoleUrl!.replace("http://", ""));
    link.stall();
    refusedBefore = await refusedTotal();
    const [host, port] = link.address.split(":");
    const body = JSON.stringify({ taskId });
    const answers: Promise<{ status: number; text: string }>[] = [];
    // Each call on a connection of its own, as the REST case.
    const requests = Array.from({ length: 8 }, () => {
      const request = http.request({
        host,
        port: Number(port),
        method: "POST",
        path: "/baton.v1.TaskService/GetTaskLogs",
        headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
        agent: false,
      });
      answers.push(
        new Promise((resolve) => {
          request.on("response", (res) => {
            let text = "";
            res.setEncoding("utf8");
            res.on("data", (chunk: string) => (text += chunk.length < 1000 ? chunk : ""));
            res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
            res.on("error", () => resolve({ status: res.statusCode ?? 0, text }));
          });
          request.on("error", () => resolve({ status: 0, text: "" }));
        }),
      );
      request.end(body);
      return request;
    });
    try {
      await eventually(
        async () => link.connections(),
        (n) => n === 8,
      );
      await allAnswered(8);
      const bytes = await held();
      assert.ok(
        bytes <= BUDGET.totalBytes && bytes >= 2 * pageBytes,
        `the server holds ${bytes} bytes of unread console answers (budget ${BUDGET.totalBytes})`,
      );
      assert.ok((await refusedNow()) >= 1, `answers beyond what may wait are refused at once (${await refusedNow()})`);
      // Once read, a refused call is Connect's resource_exhausted, saying what to do.
      link.resume();
      const read = await Promise.all(answers);
      const refused = read.filter((a) => a.status === 429);
      assert.ok(refused.length >= 1, JSON.stringify(read.map((a) => a.status)));
      for (const r of refused) {
        assert.equal((JSON.parse(r.text) as { code: string }).code, "resource_exhausted");
        assert.match(r.text, /have not read yet/);
      }
      assert.ok(
        read.every((a) => a.status === 200 || a.status === 429),
        JSON.stringify(read.map((a) => a.status)),
      );
      await eventually(held, (b) => b === 0);
      await h.advance(BUDGET.waitMs);
      assert.equal(await waiting(), 0);
    } finally {
      requests.forEach((r) => r.destroy());
      link.close();
    }
  });

  it("the budget is set by BATON_UNSENT_ANSWER_BYTES (a connection's share a quarter of it), by default from memory", () => {
    assert.deepEqual(serverOptionsFromEnv({ BATON_UNSENT_ANSWER_BYTES: String(256 * MiB) }).answerBudget, { totalBytes: 256 * MiB });
    assert.equal(answerBudgetOf({ totalBytes: 256 * MiB }).connectionBytes, 64 * MiB);
    for (const bad of ["0", "-1", "lots", "1.5", "1000"])
      assert.throws(
        () => serverOptionsFromEnv({ BATON_UNSENT_ANSWER_BYTES: bad }),
        /BATON_UNSENT_ANSWER_BYTES must be a whole number of bytes, at least 1048576/,
      );
    assert.equal(defaultAnswerBudget(8 * 1024 * MiB).totalBytes, 512 * MiB, "a sixteenth of 8 GiB");
    assert.equal(defaultAnswerBudget(512 * MiB).totalBytes, 64 * MiB, "at least 64 MiB");
    assert.equal(defaultAnswerBudget(64 * 1024 * MiB).totalBytes, 1024 * MiB, "at most 1 GiB");
  });
});
