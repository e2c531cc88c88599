// What a list call costs (issue 14): the definition, task definition, event
// handler and schedule lists answered everything stored in one call, and the
// workflow definitions list read and hashed every version's body each time.
// They answer pages now (100 by default, at most 1000, an opaque token for the
// next), a definition's content hash is stored with it, and an event's handlers
// are bounded. Conductor's REST lists still answer everything (read page by
// page), and the CLI's and client's lists follow the pages.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import pg from "pg";
import { grpc } from "@baton/protocol";
import { startRestHarness, type Harness } from "../support/harness.js";
import { statementsDuring } from "../support/statements.js";

const flow = (name: string, version: number, description = "") => ({
  name,
  version,
  description,
  schemaVersion: 2,
  tasks: [{ name: "n", taskReferenceName: "n", type: "NOOP" }],
});

const handler = (name: string, event: string, actions = 1) => ({
  name,
  event,
  active: true,
  actions: Array.from({ length: actions }, () => ({ action: "complete_task", complete_task: { workflowId: "x", taskRefName: "t" } })),
});

const codeOf = (p: Promise<unknown>) =>
  p.then(
    () => "OK",
    (e: { code?: number; details?: string }) => `${grpc.status[e.code ?? 2]}: ${e.details ?? ""}`,
  );

describe("list calls answer pages, and what they read is bounded", () => {
  let h: Harness & { rest: string };
  let db: pg.Client;
  before(async () => {
    h = await startRestHarness();
    db = new pg.Client({ connectionString: h.databaseUrl });
    await db.connect();
  });
  after(async () => {
    await db.end();
    await h.close();
  });

  it("task definitions: 100 a page by default, at most 1000, the token continuing; REST and the client still list all", async () => {
    await h.client.registerTaskDefs(Array.from({ length: 1001 }, (_, i) => ({ name: `t${String(i).padStart(4, "0")}` })));
    const first = await h.client.metadata.listTaskDefs({});
    assert.equal(first.taskDefJson.length, 100, "before, all 1001 in one answer");
    assert.notEqual(first.nextPageToken, "");
    const big = await h.client.metadata.listTaskDefs({ pageSize: 5000 });
    assert.equal(big.taskDefJson.length, 1000);
    const rest = await h.client.metadata.listTaskDefs({ pageSize: 5000, pageToken: big.nextPageToken });
    assert.deepEqual(
      rest.taskDefJson.map((j) => (JSON.parse(j) as { name: string }).name),
      ["t1000"],
    );
    assert.equal(rest.nextPageToken, "");
    assert.equal((await h.client.listTaskDefs()).length, 1001);
    const viaRest = (await (await fetch(`${h.rest}/api/metadata/taskdefs`)).json()) as unknown[];
    assert.equal(viaRest.length, 1001);
  });

  it("a page token of another list, or not the server's, is refused saying what to do", async () => {
    const { nextPageToken } = await h.client.metadata.listTaskDefs({ pageSize: 1 });
    assert.match(
      await codeOf(h.client.events.listEventHandlers({ pageToken: nextPageToken })),
      /INVALID_ARGUMENT: page_token is not one this server issued for this list/,
    );
    assert.match(await codeOf(h.client.metadata.listTaskDefs({ pageToken: "nonsense" })), /INVALID_ARGUMENT: page_token .*pass a next_page_token unchanged/);
    assert.match(await codeOf(h.client.metadata.listTaskDefs({ pageSize: -1 })), /INVALID_ARGUMENT: page_size must not be negative/);
  });

  it("workflow definitions: pages by name then version (all versions) or by name (latest), every version once", async () => {
    for (const name of ["a", "b", "c"]) for (let v = 1; v <= 3; v++) await h.client.registerWorkflowDef(flow(name, v, `${name}${v}`));
    const seen: string[] = [];
    let token = "";
    do {
      const page = await h.client.metadata.listWorkflowDefs({ allVersions: true, pageSize: 2, pageToken: token });
      assert.ok(page.definitions.length <= 2);
      seen.push(...page.definitions.map((d) => `${d.name}${d.version}:${d.description}`));
      token = page.nextPageToken;
    } while (token);
    assert.deepEqual(seen, ["a3:a3", "a2:a2", "a1:a1", "b3:b3", "b2:b2", "b1:b1", "c3:c3", "c2:c2", "c1:c1"]);
    const latest = await h.client.listWorkflowDefs({});
    assert.deepEqual(
      latest.map((d) => `${d.name}${d.version}`),
      ["a3", "b3", "c3"],
    );
    const first = await h.client.metadata.listWorkflowDefs({ pageSize: 1 });
    assert.deepEqual(
      first.definitions.map((d) => d.name),
      ["a"],
    );
    // A token of the all-versions list does not continue the latest-only one.
    const allToken = (await h.client.metadata.listWorkflowDefs({ allVersions: true, pageSize: 1 })).nextPageToken;
    assert.match(await codeOf(h.client.metadata.listWorkflowDefs({ pageToken: allToken })), /INVALID_ARGUMENT/);
  });

  it("a definition's content hash is stored with it and read, not computed by each list or GetWorkflowDef; one stored before is filled in once", async () => {
    await h.client.registerWorkflowDef(flow("hashed", 1));
    const { contentHash } = await h.client.metadata.getWorkflowDef({ name: "hashed" });
    const listed = async () => (await h.client.metadata.listWorkflowDefs({ name: "hashed" })).definitions[0]?.contentHash;
    assert.equal(await listed(), contentHash);
    // The list shows what is stored: it did not hash the body again (before, it did, on every call).
    await db.query("UPDATE baton.defs SET content_hash = 'stored' WHERE body->>'name' = 'hashed'");
    assert.equal(await listed(), "stored");
    // A body stored before its hash was: hashed once by the list, and kept.
    await db.query("UPDATE baton.defs SET content_hash = NULL, description = NULL WHERE body->>'name' = 'hashed'");
    assert.equal(await listed(), contentHash);
    const { rows } = await db.query("SELECT content_hash FROM baton.defs WHERE body->>'name' = 'hashed'");
    assert.equal(rows[0]?.content_hash, contentHash);
    // GetWorkflowDef answers the stored hash too (before, it hashed the body on every call), and fills a missing one.
    const got = async () => (await h.client.metadata.getWorkflowDef({ name: "hashed", version: 1 })).contentHash;
    await db.query("UPDATE baton.defs SET content_hash = 'stored' WHERE body->>'name' = 'hashed'");
    assert.equal(await got(), "stored");
    await db.query("UPDATE baton.defs SET content_hash = NULL, description = NULL WHERE body->>'name' = 'hashed'");
    assert.equal(await got(), contentHash);
    assert.equal((await db.query("SELECT content_hash FROM baton.defs WHERE body->>'name' = 'hashed'")).rows[0]?.content_hash, contentHash);
  });

  it("definitions with their JSON: a page stops after about 4 MiB; REST's list is every version, each as getWorkflowDef answers it", async () => {
    const mib = "x".repeat(1024 * 1024);
    for (let v = 1; v <= 6; v++) await h.client.registerWorkflowDef(flow("big", v, `${v}${mib}`));
    const page = await h.client.metadata.listWorkflowDefs({ name: "big", allVersions: true, withDefinitionJson: true, pageSize: 1000 });
    assert.ok(page.definitions.length >= 4 && page.definitions.length < 6, `${page.definitions.length} definitions in the page`);
    assert.notEqual(page.nextPageToken, "");
    const next = await h.client.metadata.listWorkflowDefs({
      name: "big",
      allVersions: true,
      withDefinitionJson: true,
      pageSize: 1000,
      pageToken: page.nextPageToken,
    });
    assert.deepEqual(
      [...page.definitions, ...next.definitions].map((d) => d.version),
      [6, 5, 4, 3, 2, 1],
    );
    assert.deepEqual(JSON.parse(page.definitions[0]!.definitionJson), await h.client.getWorkflowDef("big", 6));

    const all = (await (await fetch(`${h.rest}/api/metadata/workflow`)).json()) as { name: string; version: number }[];
    const stored = await db.query("SELECT count(*)::int AS n FROM baton.workflow_defs");
    assert.equal(all.length, stored.rows[0]?.n);
    assert.deepEqual(
      all.find((d) => d.name === "a" && d.version === 2),
      await h.client.getWorkflowDef("a", 2),
    );
    const names = (await (await fetch(`${h.rest}/api/metadata/workflow/names-and-versions`)).json()) as Record<string, { version: number }[]>;
    assert.deepEqual(
      names["big"]?.map((d) => d.version),
      [1, 2, 3, 4, 5, 6],
    );
  });

  it("an event has at most 100 handlers: the next is refused naming the event, the bound and what to do; a handler at most 20 actions", async () => {
    for (let i = 0; i < 100; i++) await h.client.registerEventHandler(handler(`h${String(i).padStart(3, "0")}`, "busy"));
    const refused = await codeOf(h.client.registerEventHandler(handler("h100", "busy")));
    assert.match(refused, /^FAILED_PRECONDITION: event "busy" already has 100 handlers, the most one event may have .*remove one it no longer needs/);
    // Replacing one of the hundred, and a handler of another event, are fine.
    assert.equal(await codeOf(h.client.registerEventHandler({ ...handler("h000", "busy"), active: false })), "OK");
    assert.equal(await codeOf(h.client.registerEventHandler(handler("quiet1", "quiet"))), "OK");
    // Moving a handler to the full event counts it there.
    assert.match(await codeOf(h.client.registerEventHandler(handler("quiet1", "busy"))), /FAILED_PRECONDITION: event "busy"/);
    const restRefused = await fetch(`${h.rest}/api/event`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify(handler("h101", "busy")),
    });
    assert.notEqual(restRefused.status, 200);
    assert.match(((await restRefused.json()) as { message: string }).message, /already has 100 handlers/);

    assert.match(
      await codeOf(h.client.registerEventHandler(handler("many", "other", 21))),
      /INVALID_ARGUMENT: .*actions holds 21 actions; a handler holds at most 20: split them over several handlers/,
    );
    assert.equal(await codeOf(h.client.registerEventHandler(handler("twenty", "other", 20))), "OK");

    // Pages: 100 by default, the client follows them.
    const page = await h.client.events.listEventHandlers({});
    assert.equal(page.handlerJson.length, 100);
    assert.notEqual(page.nextPageToken, "");
    assert.equal((await h.client.listEventHandlers()).length, 102);
    assert.equal((await h.client.listEventHandlers({ event: "busy" })).length, 100);
    const viaRest = (await (await fetch(`${h.rest}/api/event`)).json()) as unknown[];
    assert.equal(viaRest.length, 102);
  });

  it("an event runs at most 100 of its handlers, even with more stored (from before the bound)", async () => {
    // 150 active handlers of one event written straight to the table, as a server before the bound could have.
    await db.query(
      `INSERT INTO baton.event_handlers (name, event, active, body, created_at, updated_at)
       SELECT 'legacy' || i, 'legacy', true, $1::jsonb || jsonb_build_object('name', 'legacy' || i), 0, 0 FROM generate_series(1, 150) i`,
      [JSON.stringify({ ...handler("x", "legacy"), actions: [{ action: "start_workflow", start_workflow: { name: "legacy_flow" } }] })],
    );
    await h.client.registerWorkflowDef(flow("legacy_flow", 1));
    await h.client.publishEvent("legacy", {});
    const started = async () => (await db.query("SELECT count(*)::int AS n FROM baton.runs WHERE name = 'legacy_flow'")).rows[0]?.n as number;
    for (let i = 0; i < 200 && (await started()) < 100; i++) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await started(), 100, "before, each of the 150 started a run");
  });

  it("task definitions, event handlers and schedules: a page stops after about 4 MiB, the token continuing, each once", async () => {
    // Before, a page was 1,000 whatever their size: 1,000 items of 4 MiB each were 4 GB read and answered at once.
    const mib = "x".repeat(1024 * 1024);
    const names = ["w1", "w2", "w3", "w4", "w5", "w6"];
    for (const name of names) await h.client.registerTaskDefs([{ name: `wide_${name}`, description: mib }]);
    for (const name of names) await h.client.registerEventHandler({ ...handler(`wide_${name}`, "wide_event"), description: mib });
    await h.client.registerWorkflowDef(flow("wide_scheduled", 1));
    for (const name of names)
      await h.client.createSchedule({
        name: `wide_${name}`,
        intervalSeconds: 3600,
        paused: true,
        description: mib,
        startWorkflowRequest: { name: "wide_scheduled" },
      });
    const lists: Record<string, (pageToken: string) => Promise<{ names: string[]; nextPageToken: string }>> = {
      taskDefs: async (pageToken) => {
        const page = await h.client.metadata.listTaskDefs({ pageSize: 1000, pageToken });
        return { names: page.taskDefJson.map((t) => (JSON.parse(t) as { name: string }).name), nextPageToken: page.nextPageToken };
      },
      handlers: async (pageToken) => {
        const page = await h.client.events.listEventHandlers({ event: "wide_event", pageSize: 1000, pageToken });
        return { names: page.handlerJson.map((t) => (JSON.parse(t) as { name: string }).name), nextPageToken: page.nextPageToken };
      },
      schedules: async (pageToken) => {
        const page = await h.client.schedules.listSchedules({ workflowName: "wide_scheduled", pageSize: 1000, pageToken });
        return { names: page.schedules.map((s) => (JSON.parse(s.scheduleJson) as { name: string }).name), nextPageToken: page.nextPageToken };
      },
    };
    const tables: Record<string, string> = { taskDefs: "baton.task_defs", handlers: "baton.event_handlers", schedules: "baton.schedules" };
    for (const [list, read] of Object.entries(lists)) {
      const seen: string[] = [];
      let most = 0;
      let received = 0;
      await statementsDuring(
        async () => {
          let token = "";
          do {
            const page = await read(token);
            const wide = page.names.filter((n) => n.startsWith("wide_"));
            most = Math.max(most, wide.length);
            seen.push(...wide);
            token = page.nextPageToken;
          } while (token !== "");
        },
        ([text], results) => {
          if (typeof text !== "string" || !text.includes(`FROM ${tables[list]}`)) return;
          void results.then(
            (result) => {
              // A row names its item in a column, or in its body (a task definition's).
              const rows = (result as { rows: { name?: string; body?: { name?: string } }[] }).rows;
              received += rows.filter((r) => (r.name ?? r.body?.name ?? "").startsWith("wide_")).length;
            },
            () => {},
          );
        },
      );
      assert.ok(most >= 4 && most < 6, `${list}: at most ${most} of 1 MiB in a page`);
      // Before, a read of 16 brought all six of 1 MiB for a page with room for four: the server received items a page could not show.
      assert.equal(received, names.length, `${list}: the server received the items of 1 MiB ${received} times`);
      assert.deepEqual(
        seen,
        names.map((n) => `wide_${n}`),
        `${list}: each once, in order`,
      );
    }
    for (const name of names) await h.client.deleteSchedule(`wide_${name}`);
  });

  it("Conductor's whole lists refuse to build an answer over 64 MiB, saying to read the pages; the pages still read", async () => {
    // Before, GET /api/metadata/taskdefs held every task definition at once to answer, however many gigabytes.
    await db.query(
      `INSERT INTO baton.task_defs (name, body, updated_at)
       SELECT 'huge_' || i, jsonb_build_object('name', 'huge_' || i, 'description', repeat('y', 1024 * 1024)), 0 FROM generate_series(1, 70) i`,
    );
    try {
      const answer = await fetch(`${h.rest}/api/metadata/taskdefs`);
      assert.equal(answer.status, 400);
      const body = (await answer.json()) as { message: string };
      assert.match(
        body.message,
        /the task definitions hold more than 64 MiB, more than this server answers in one list: read them in pages \(gRPC ListTaskDefs with page_token\)/,
      );
      let token = "";
      let huge = 0;
      do {
        const page = await h.client.metadata.listTaskDefs({ pageSize: 1000, pageToken: token });
        huge += page.taskDefJson.filter((t) => t.includes('"name":"huge_')).length;
        token = page.nextPageToken;
      } while (token !== "");
      assert.equal(huge, 70);
    } finally {
      await db.query("DELETE FROM baton.task_defs WHERE name LIKE 'huge\\_%'");
    }
    assert.equal((await fetch(`${h.rest}/api/metadata/taskdefs`)).status, 200);
  });

  it("schedules: pages of 100 by default; the client lists them all", async () => {
    await h.client.registerWorkflowDef(flow("scheduled", 1));
    for (let i = 0; i < 105; i++)
      await h.client.createSchedule({
        name: `s${String(i).padStart(3, "0")}`,
        intervalSeconds: 3600,
        paused: true,
        startWorkflowRequest: { name: "scheduled" },
      });
    const page = await h.client.schedules.listSchedules({});
    assert.equal(page.schedules.length, 100);
    const rest = await h.client.schedules.listSchedules({ pageToken: page.nextPageToken });
    assert.deepEqual(
      rest.schedules.map((s) => (JSON.parse(s.scheduleJson) as { name: string }).name),
      ["s100", "s101", "s102", "s103", "s104"],
    );
    assert.equal((await h.client.listSchedules("scheduled")).length, 105);
  });
});
