// The console in a real browser (Debian's chromium, driven by playwright-core)
// against a real server on real PostgreSQL with real workers: what a person
// sees of a fork / switch / loop / dynamic fork / sub-workflow run, the path
// not taken greyed, a retry and a signal changing a run live, a reader's
// controls disabled and refused by the server, an unknown run "not found",
// a bad filter refused naming its field, runs filtered by version and start
// window and sorted by a clicked column header, the timeline's queued and running time per attempt, a
// HUMAN task failed from its form, a run waiting on a type nobody serves. Screenshots go to test/.tmp/console/
// (BATON_CONSOLE_DOCS=1 also refreshes docs/console-run.png).
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { BatonClient, Worker } from "@baton/client";
import { createLogger, openKeyRegistry, startServer, type BatonServer } from "@baton/server";
import { freshDatabase, stopCluster } from "../support/database.js";
import { eventually } from "../support/harness.js";
import { flowOf } from "../support/flows.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const shots = path.join(root, "test/.tmp/console");
const CHROMIUM = process.env["BATON_CHROMIUM"] ?? "/usr/bin/chromium";

let server: BatonServer;
let url: string;
let admin: BatonClient;
let worker: Worker;
let browser: BrowserContext;
let profile: string;
let closeKeys: () => Promise<void>;
const keys: Record<string, string> = {};
let flakyFailures = 1;

const shapes = {
  name: "console_shapes",
  version: 1,
  schemaVersion: 2,
  description: "fork, switch, loop, dynamic fork and a sub-workflow",
  tasks: [
    {
      name: "fork",
      taskReferenceName: "fork",
      type: "FORK_JOIN",
      forkTasks: [
        [{ name: "console_work", taskReferenceName: "fetch_profile", type: "SIMPLE" }],
        [
          { name: "console_work", taskReferenceName: "fetch_orders", type: "SIMPLE" },
          { name: "console_work", taskReferenceName: "score_orders", type: "SIMPLE" },
        ],
      ],
    },
    { name: "join", taskReferenceName: "join", type: "JOIN", joinOn: ["fetch_profile", "score_orders"] },
    {
      name: "route",
      taskReferenceName: "route",
      type: "SWITCH",
      evaluatorType: "value-param",
      expression: "tier",
      inputParameters: { tier: "${workflow.input.tier}" },
      decisionCases: {
        gold: [{ name: "console_work", taskReferenceName: "gold_offer", type: "SIMPLE" }],
        silver: [{ name: "console_work", taskReferenceName: "silver_offer", type: "SIMPLE" }],
      },
      defaultCase: [{ name: "console_work", taskReferenceName: "no_offer", type: "SIMPLE" }],
    },
    {
      name: "retry_loop",
      taskReferenceName: "poll_loop",
      type: "DO_WHILE",
      loopCondition: "if ($.poll_loop['iteration'] < 3) { true; } else { false; }",
      loopOver: [{ name: "console_work", taskReferenceName: "check_status", type: "SIMPLE" }],
    },
    {
      name: "fanout",
      taskReferenceName: "fanout",
      type: "FORK_JOIN_DYNAMIC",
      inputParameters: { forkTaskName: "console_work", forkTaskInputs: "${workflow.input.items}" },
    },
    { name: "fanout_join", taskReferenceName: "fanout_join", type: "JOIN" },
    { name: "notify", taskReferenceName: "notify", type: "SUB_WORKFLOW", subWorkflowParam: { name: "console_child", version: 1 } },
  ],
};

const child = flowOf("console_child", [{ name: "console_work", taskReferenceName: "send_email", type: "SIMPLE" }]);
const flaky = flowOf("console_flaky", [{ name: "console_flaky", taskReferenceName: "charge", type: "SIMPLE" }]);
const versioned = (version: number) => ({
  name: "console_versions",
  version,
  schemaVersion: 2,
  tasks: [{ name: "console_work", taskReferenceName: `step_v${version}`, type: "SIMPLE" }],
});
const retried = flowOf("console_retried", [{ name: "console_retry", taskReferenceName: "charge_again", type: "SIMPLE" }]);
const review = flowOf("console_review", [
  { name: "review", taskReferenceName: "review", type: "HUMAN" },
  { name: "console_work", taskReferenceName: "publish", type: "SIMPLE" },
]);
const unserved = flowOf("console_unserved", [{ name: "console_nobody", taskReferenceName: "waits", type: "SIMPLE" }]);
let retryFailures = 1;
const approval = flowOf("console_approval", [
  { name: "approve", taskReferenceName: "approve", type: "WAIT" },
  { name: "console_work", taskReferenceName: "ship", type: "SIMPLE" },
]);

async function signedIn(key: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${url}/runs`);
  await page.getByLabel("API key").fill(key);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("heading", { name: "Runs" }).waitFor();
  return page;
}

async function finished(id: string, status = "COMPLETED") {
  return eventually(
    () => admin.getWorkflow(id),
    (r) => r.status === status,
    30_000,
  );
}

const node = (page: Page, ref: string) => page.locator(`g.node[data-ref="${ref}"]`).first();

/** An instant as a datetime-local field holds it (this machine's time zone, as the browser's), to the millisecond. */
const localTime = (ms: number) => new Date(ms - new Date(ms).getTimezoneOffset() * 60_000).toISOString().slice(0, 23);

before(async () => {
  const databaseUrl = await freshDatabase();
  server = await startServer({
    databaseUrl,
    port: 0,
    auth: { mode: "required" },
    console: { port: 0 },
    logger: createLogger(process.env["BATON_LOG_LEVEL"] ?? "silent"),
  });
  url = server.consoleUrl!;
  const opened = await openKeyRegistry(databaseUrl);
  closeKeys = opened.close;
  for (const role of ["admin", "operator", "reader"] as const)
    keys[role] = (await opened.registry.create({ role, taskTypes: [], name: `console ${role}` })).key;
  admin = new BatonClient({ address: server.address, token: keys["admin"]!, tls: false });
  await admin.registerTaskDefs([
    { name: "console_work", retryCount: 0, responseTimeoutSeconds: 60 },
    // Limits the Queues page shows (high enough never to hold the tests back).
    { name: "console_flaky", retryCount: 0, responseTimeoutSeconds: 60, concurrentExecLimit: 5, rateLimitPerFrequency: 100, rateLimitFrequencyInSeconds: 10 },
    { name: "console_retry", retryCount: 1, retryLogic: "FIXED", retryDelaySeconds: 1, responseTimeoutSeconds: 60 },
    { name: "console_nobody", retryCount: 0, responseTimeoutSeconds: 60 },
  ]);
  for (const def of [child, shapes, flaky, approval, versioned(1), versioned(2), retried, review, unserved]) await admin.registerWorkflowDef(def);
  worker = new Worker({ address: server.address, token: keys["admin"]!, tls: false, workerId: "console-test-worker" })
    .handle(
      "console_work",
      async (input: Record<string, unknown>, ctx) => {
        await ctx.log(`working on ${ctx.referenceTaskName}`);
        return { done: ctx.referenceTaskName, ...input };
      },
      { concurrency: 8 },
    )
    .handle("console_retry", () => {
      if (retryFailures-- > 0) throw new Error("gateway busy, says the test");
      return { charged: true };
    })
    .handle("console_flaky", () => {
      if (flakyFailures-- > 0) throw new Error("card declined by the test");
      return { charged: true };
    })
    .start();
  mkdirSync(shots, { recursive: true });
  profile = mkdtempSync(path.join(tmpdir(), "baton-console-chromium-"));
  browser = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    viewport: { width: 1440, height: 900 },
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
});

after(async () => {
  await browser?.close();
  if (profile) rmSync(profile, { recursive: true, force: true });
  await worker?.stop();
  admin?.close();
  await closeKeys?.();
  await server?.close();
  await stopCluster();
});

describe("the console in a browser", () => {
  it("asks for a key, then lists runs with counts per status", async () => {
    const id = await admin.startWorkflow(child.name, {}, { correlationId: "console-list" });
    await finished(id);
    const page = await browser.newPage();
    await page.goto(url);
    await page.getByText("This server requires an API key").waitFor();
    await page.getByLabel("API key").fill("baton_not_a_key");
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("alert").waitFor();
    await page.getByLabel("API key").fill(keys["operator"]!);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.getByRole("heading", { name: "Runs" }).waitFor();
    await page.locator(`tr[data-run="${id}"]`).waitFor();
    assert.match(await page.locator(`tr[data-run="${id}"]`).innerText(), /console_child[\s\S]*completed/);
    const completed = await page.locator('[data-count="COMPLETED"] strong').innerText();
    assert.ok(Number(completed.replace(/\D/g, "")) >= 1, `completed count: ${completed}`);
    assert.match(await page.locator(".who").innerText(), /operator/);
    // Live: a run started elsewhere shows up without a reload.
    const later = await admin.startWorkflow(child.name, {}, { correlationId: "console-list" });
    await page.locator(`tr[data-run="${later}"]`).waitFor({ timeout: 15_000 });
    await page.screenshot({ path: path.join(shots, "runs.png") });
    await page.close();
  });

  it("draws a fork / switch / loop / dynamic fork run: statuses, the taken case, the path not taken greyed", async () => {
    const id = await admin.startWorkflow(shapes.name, { tier: "gold", items: [{ n: 1 }, { n: 2 }, { n: 3 }] });
    await finished(id);
    const page = await signedIn(keys["operator"]!);
    await page.goto(`${url}/runs/${id}`);
    await node(page, "fetch_profile").waitFor();
    await page.screenshot({ path: path.join(shots, "run-graph.png") });
    for (const ref of ["fork", "fetch_profile", "fetch_orders", "score_orders", "join", "route", "gold_offer", "poll_loop", "check_status", "notify"]) {
      assert.equal(await node(page, ref).getAttribute("data-state"), "COMPLETED", `${ref} is drawn completed`);
    }
    for (const ref of ["silver_offer", "no_offer"])
      assert.equal(await node(page, ref).getAttribute("data-state"), "NOT_TAKEN", `${ref} is greyed as not taken`);
    assert.equal(await page.locator('.edge-label[data-case="gold"]').getAttribute("data-chosen"), "true");
    assert.equal(await page.locator('.edge-label[data-case="silver"]').getAttribute("data-chosen"), "false");
    // Fork branches side by side: same row, different columns.
    const [a, b] = [await node(page, "fetch_profile").boundingBox(), await node(page, "fetch_orders").boundingBox()];
    assert.ok(a && b && Math.abs(a.y - b.y) < 2 && Math.abs(a.x - b.x) > 50, "the fork's branches sit side by side");
    // The whole graph in view, to reach every step.
    await page.getByRole("button", { name: "fit" }).click();
    await page.screenshot({ path: path.join(shots, "run-fit.png") });
    // The loop: a frame with its iteration count and a picker.
    assert.equal(await page.locator('.frame[data-loop="poll_loop"] .loop-count').innerText(), "3");
    await page.getByLabel("iteration of poll_loop").selectOption("1");
    await node(page, "check_status").click();
    await page.locator('[data-panel="check_status"]').waitFor();
    assert.match(await page.locator('[data-panel="check_status"]').innerText(), /check_status__1/);
    // The dynamic fork: one group with per-status counts.
    const group = page.locator('g.node.kind-dynamic[data-ref="fanout"]');
    assert.match((await group.textContent()) ?? "", /3 branches[\s\S]*3 completed/);
    // The task panel: input, output, worker identity, logs.
    await node(page, "gold_offer").click();
    const panel = page.locator('[data-panel="gold_offer"]');
    await panel.getByText("working on gold_offer").waitFor();
    assert.match(await panel.innerText(), /console-test-worker/);
    // The picture for the README: readable zoom, a step of the taken case open.
    await page.setViewportSize({ width: 1440, height: 1250 });
    await page.reload();
    await node(page, "gold_offer").waitFor();
    await node(page, "gold_offer").click();
    await page.locator('[data-panel="gold_offer"]').getByText("working on gold_offer").waitFor();
    await page.screenshot({ path: path.join(shots, "run.png") });
    if (process.env["BATON_CONSOLE_DOCS"] === "1") copyFileSync(path.join(shots, "run.png"), path.join(root, "docs/console-run.png"));
    await page.setViewportSize({ width: 1440, height: 900 });
    await page.getByRole("button", { name: "fit" }).click();
    // The run's own data: input, output, variables, its child runs.
    await page.getByRole("tab", { name: "Input, output, variables" }).click();
    const data = page.locator(".data-grid");
    assert.match(await data.innerText(), /"tier": "gold"[\s\S]*related runs[\s\S]*notify: [0-9a-f-]{36} completed/i);
    // The sub-workflow links to its child run.
    await page.locator('g.node[data-ref="notify"] a.child-link').click();
    await page.getByRole("heading", { name: /console_child/ }).waitFor();
    assert.match((await node(page, "send_email").getAttribute("data-state")) ?? "", /COMPLETED/);
    await page.screenshot({ path: path.join(shots, "child-run.png") });
    await page.close();
  });

  it("retries a failed run from the page, which then follows the run live to COMPLETED", async () => {
    flakyFailures = 1;
    const id = await admin.startWorkflow(flaky.name, {});
    await finished(id, "FAILED");
    const page = await signedIn(keys["operator"]!);
    await page.goto(`${url}/runs/${id}`);
    await node(page, "charge").waitFor();
    assert.equal(await node(page, "charge").getAttribute("data-state"), "FAILED");
    assert.match(await page.locator(".run-head").innerText(), /card declined by the test/);
    await page.screenshot({ path: path.join(shots, "failed-run.png") });
    await page.getByRole("button", { name: "Retry" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Retry" }).click();
    await page.locator('.run-head .badge[data-status="COMPLETED"]').waitFor({ timeout: 20_000 });
    assert.equal(await node(page, "charge").getAttribute("data-state"), "COMPLETED");
    assert.equal((await admin.getWorkflow(id)).status, "COMPLETED");
    await node(page, "charge").click();
    assert.match(await page.locator('[data-panel="charge"]').innerText(), /attempt 1[\s\S]*attempt 2/);
    // Rerun from the step with its input edited: the run runs it again with that input.
    await page.locator('[data-panel="charge"]').getByRole("button", { name: "Rerun from here" }).click();
    await page.getByRole("dialog").getByLabel("Task input (edit to change it)").fill('{"amount": 7}');
    await page.getByRole("dialog").getByRole("button", { name: "Rerun" }).click();
    // The Retry's notice may still be showing: wait for the rerun's own.
    await page.locator(".notice.ok", { hasText: "Rerun from charge: done" }).waitFor();
    // (getWorkflow reads the run and its tasks in two statements: wait for a read where both agree.)
    const lastCharge = (r: Awaited<ReturnType<typeof admin.getWorkflow>>) => r.tasks.filter((t) => t.referenceTaskName === "charge").at(-1);
    const rerun = await eventually(
      () => admin.getWorkflow(id),
      (r) => r.status === "COMPLETED" && lastCharge(r)?.status === "COMPLETED",
      20_000,
    );
    assert.deepEqual(lastCharge(rerun)?.inputData, { amount: 7 });
    await page.close();
  });

  it("completes a WAIT task with an output typed into the form", async () => {
    const id = await admin.startWorkflow(approval.name, {});
    const page = await signedIn(keys["operator"]!);
    await page.goto(`${url}/runs/${id}`);
    await node(page, "approve").waitFor();
    assert.equal(await node(page, "approve").getAttribute("data-state"), "IN_PROGRESS");
    assert.equal(await node(page, "ship").getAttribute("data-state"), "PENDING");
    await node(page, "approve").click();
    await page.locator('[data-panel="approve"]').getByRole("button", { name: "Complete" }).click();
    await page.getByRole("dialog").getByLabel("Output (JSON object)").fill('{"approved": "yes, by the test"}');
    await page.getByRole("dialog").getByRole("button", { name: "Complete" }).click();
    await page.locator('.run-head .badge[data-status="COMPLETED"]').waitFor({ timeout: 20_000 });
    const run = await admin.getWorkflow(id);
    assert.equal(run.status, "COMPLETED");
    assert.deepEqual(run.tasks.find((t) => t.referenceTaskName === "approve")?.outputData, { approved: "yes, by the test" });
    await page.close();
  });

  it("pauses and resumes a run, skips a step not reached yet, and restarts an ended run, each confirmed first", async () => {
    const id = await admin.startWorkflow(approval.name, {});
    const page = await signedIn(keys["operator"]!);
    await page.goto(`${url}/runs/${id}`);
    await node(page, "approve").waitFor();
    const confirm = async (action: string) => {
      await page.locator(".run-head").getByRole("button", { name: action }).click();
      await page.getByRole("dialog").getByRole("button", { name: action }).click();
    };
    await confirm("Pause");
    await page.locator('.run-head .badge[data-status="PAUSED"]').waitFor();
    assert.equal((await admin.getWorkflow(id)).status, "PAUSED");
    await confirm("Resume");
    await page.locator('.run-head .badge[data-status="RUNNING"]').waitFor();
    // The step after the WAIT, skipped before the run gets there.
    await node(page, "ship").click();
    await page.locator('[data-panel="ship"]').getByRole("button", { name: "Skip" }).click();
    await page.getByRole("dialog").getByRole("button", { name: "Skip" }).click();
    await page.locator(".notice.ok", { hasText: "Skip ship: done" }).waitFor();
    await admin.signalTask(id, { taskReferenceName: "approve" }, { output: { approved: true } });
    await page.locator('.run-head .badge[data-status="COMPLETED"]').waitFor({ timeout: 20_000 });
    assert.equal(await node(page, "ship").getAttribute("data-state"), "SKIPPED");
    // Ended: restarted from the beginning, same run id, waiting on its WAIT again.
    await confirm("Restart");
    await page.locator('.run-head .badge[data-status="RUNNING"]').waitFor({ timeout: 20_000 });
    await eventually(
      () => node(page, "approve").getAttribute("data-state"),
      (state) => state === "IN_PROGRESS",
      20_000,
    );
    assert.equal((await admin.getWorkflow(id)).status, "RUNNING");
    await admin.terminateWorkflow(id, "test cleanup");
    await page.close();
  });

  it("acting on a run that moved meanwhile shows the server's refusal and the run as it is now", async () => {
    const id = await admin.startWorkflow(approval.name, {});
    const page = await signedIn(keys["operator"]!);
    await page.goto(`${url}/runs/${id}`);
    await node(page, "approve").click();
    await page.locator('[data-panel="approve"]').getByRole("button", { name: "Complete" }).click();
    // While the dialog is open, someone else completes the step and the run ends.
    await admin.signalTask(id, { taskReferenceName: "approve" }, { output: { by: "someone else" } });
    await finished(id);
    await page.getByRole("dialog").getByRole("button", { name: "Complete" }).click();
    const notice = page.locator(".notice.error");
    await notice.waitFor();
    assert.match(await notice.innerText(), /Complete approve refused: (run \S+ has ended \(COMPLETED\)|task approve has already ended)/);
    await page.locator('.run-head .badge[data-status="COMPLETED"]').waitFor();
    await page.close();
  });

  it("shows a reader its controls disabled, and the server refuses the reader anyway", async () => {
    const id = await admin.startWorkflow(approval.name, {});
    const page = await signedIn(keys["reader"]!);
    await page.goto(`${url}/runs/${id}`);
    await node(page, "approve").waitFor();
    const terminate = page.getByRole("button", { name: "Terminate" });
    assert.equal(await terminate.isDisabled(), true);
    assert.match((await terminate.getAttribute("title")) ?? "", /role \(reader\) may not operate runs/);
    // Force the button as a crafted page would: the server's gate refuses, in its words.
    await terminate.evaluate((b) => b.removeAttribute("disabled"));
    await terminate.click();
    await page.getByRole("dialog").getByRole("button", { name: "Terminate" }).click();
    const notice = page.locator(".notice.error");
    await notice.waitFor();
    assert.match(await notice.innerText(), /Terminate refused: role reader may not call baton\.v1\.WorkflowService\/TerminateWorkflow/);
    assert.equal((await admin.getWorkflow(id)).status, "RUNNING", "nothing reached the run");
    await page.screenshot({ path: path.join(shots, "reader-refused.png") });
    await admin.terminateWorkflow(id, "test cleanup");
    await page.close();
  });

  it("says not found for an unknown run, and refuses a bad filter naming the field", async () => {
    const page = await signedIn(keys["reader"]!);
    await page.goto(`${url}/runs/00000000-0000-4000-8000-00000000beef`);
    await page.getByText("Not found.").waitFor();
    assert.match(await page.locator(".not-found").innerText(), /no run 00000000-0000-4000-8000-00000000beef/);
    await page.goto(`${url}/runs?from=2026-03-02T10:00:00&to=2026-03-01T10:00:00`);
    const error = page.locator(".error");
    await error.waitFor();
    assert.match(await error.innerText(), /start_time_from_ms must be before start_time_to_ms/);
    await page.close();
  });

  it("filters runs by version and start window, sorts oldest first, and refuses a bad filter naming its field", async () => {
    const ids: string[] = [];
    for (const version of [1, 2, 2]) {
      const id = await admin.startWorkflow("console_versions", {}, { version });
      await finished(id);
      ids.push(id);
    }
    const [v1, firstV2, secondV2] = ids as [string, string, string];
    const started = async (id: string) => (await admin.getWorkflow(id)).createTime;
    const page = await signedIn(keys["reader"]!);
    const shown = async () => page.locator("tr[data-run]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run")));
    // The form, as a person fills it: a name and a version.
    await page.getByLabel("Workflow").fill("console_versions");
    await page.getByLabel("Version").fill("2");
    await page.getByRole("button", { name: "Search" }).click();
    await page.locator(`tr[data-run="${secondV2}"]`).waitFor();
    assert.deepEqual(await shown(), [secondV2, firstV2], "version 2's runs, newest first");
    assert.equal(await page.locator('[data-count="COMPLETED"] strong').innerText(), "2");
    // Oldest first, from the column's header.
    await page.getByRole("button", { name: "sort by start time" }).click();
    await eventually(shown, (rows) => rows[0] === firstV2, 10_000);
    assert.deepEqual(await shown(), [firstV2, secondV2]);
    // A start window: from the second run's start (included) to the third's (excluded).
    await page.goto(`${url}/runs?name=console_versions&from=${localTime(await started(firstV2))}&to=${localTime(await started(secondV2))}`);
    await page.locator(`tr[data-run="${firstV2}"]`).waitFor();
    assert.deepEqual(await shown(), [firstV2]);
    await page.goto(`${url}/runs?name=console_versions&from=${localTime(await started(firstV2))}`);
    await page.locator(`tr[data-run="${secondV2}"]`).waitFor();
    assert.deepEqual(await shown(), [secondV2, firstV2], `${v1} started before the window`);
    // Bad filters: refused naming the field, which is marked.
    await page.goto(`${url}/runs?name=console_versions&version=abc`);
    await page.locator(".error").waitFor();
    assert.match(await page.locator(".error").innerText(), /Filter refused: Version: "abc" is not a version number/);
    assert.equal(await page.getByLabel("Version").getAttribute("aria-invalid"), "true");
    await page.goto(`${url}/runs?version=2`);
    await page.locator(".error").waitFor();
    assert.match(await page.locator(".error").innerText(), /Filter refused: version filters one workflow's versions: give name too/);
    assert.equal(await page.getByLabel("Version").getAttribute("aria-invalid"), "true");
    assert.equal(await page.locator("tr[data-run]").count(), 0, "no runs listed under a refused filter");
    await page.screenshot({ path: path.join(shots, "runs-bad-filter.png") });
    await page.close();
  });

  it("sorts runs by a column when its header is clicked, each way, kept in the address bar", async () => {
    // Runs of three workflows, one still running (no worker serves it), under one correlation id.
    const tag = { correlationId: "console-sort" };
    const ids = [
      await admin.startWorkflow(child.name, {}, tag),
      await admin.startWorkflow(unserved.name, {}, tag),
      await admin.startWorkflow("console_versions", {}, { ...tag, version: 1 }),
      await admin.startWorkflow(child.name, {}, tag),
    ];
    for (const id of [ids[0]!, ids[2]!, ids[3]!]) await finished(id);
    const runs = await Promise.all(ids.map((id) => admin.getWorkflow(id, { includeTasks: false })));
    type Run = (typeof runs)[number];
    const by = (key: (r: Run) => (string | number)[], ascending: boolean) =>
      [...runs]
        .sort((x, y) => {
          const [kx, ky] = [
            [...key(x), x.workflowId],
            [...key(y), y.workflowId],
          ];
          const i = kx.findIndex((v, n) => v !== ky[n]);
          const c = i < 0 ? 0 : kx[i]! < ky[i]! ? -1 : 1;
          return ascending ? c : -c;
        })
        .map((r) => r.workflowId);
    const page = await signedIn(keys["reader"]!);
    await page.goto(`${url}/runs?correlation=console-sort`);
    await page.locator("tr[data-run]").nth(3).waitFor();
    const shown = async () => page.locator("tr[data-run]").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-run")));
    // What a person reads in a column, top to bottom.
    const column = async (n: number) => page.locator(`tr[data-run] td:nth-child(${n})`).allInnerTexts();
    const header = (name: string) => page.getByRole("button", { name: `sort by ${name}` });
    const sorted = (name: string) => page.locator("th", { has: header(name) }).getAttribute("aria-sort");
    const showsOrder = (expected: string[]) => eventually(shown, (rows) => JSON.stringify(rows) === JSON.stringify(expected), 10_000);

    await header("name").click();
    await showsOrder(by((r) => [r.workflowName, r.createTime], true));
    assert.equal(await sorted("name"), "ascending");
    assert.equal(await sorted("start time"), "none");
    assert.deepEqual(
      (await column(1)).map((t) => t.split(/\s/)[0]),
      ["console_child", "console_child", "console_unserved", "console_versions"],
    );
    assert.match(page.url(), /order=name-asc/);
    await header("name").click();
    await showsOrder(by((r) => [r.workflowName, r.createTime], false));
    assert.equal(await sorted("name"), "descending");
    assert.equal((await column(1))[0]!.split(/\s/)[0], "console_versions");

    await header("status").click();
    await showsOrder(by((r) => [r.status, r.createTime], true));
    assert.deepEqual(
      (await column(2)).map((t) => t.trim().toLowerCase()),
      ["completed", "completed", "completed", "running"],
    );

    // Newest ended first; the run still going has no end and comes last.
    await header("end time").click();
    await showsOrder(by((r) => [r.endTime], false));
    assert.equal(await sorted("end time"), "descending");
    assert.deepEqual((await column(6)).at(-1), "—");
    assert.equal((await shown()).at(-1), ids[1]);
    await page.screenshot({ path: path.join(shots, "runs-sorted.png") });

    // The order is kept in the address bar: a link opens the list sorted.
    await page.goto(`${url}/runs?correlation=console-sort&order=end-asc`);
    const endAsc = by((r) => [r.endTime], true);
    await showsOrder(endAsc);
    assert.equal(await sorted("end time"), "ascending");
    await admin.terminateWorkflow(ids[1]!, "test cleanup");
    await page.close();
  });

  it("draws every attempt on the timeline: time queued, then running, the retry marked", async () => {
    retryFailures = 1;
    const id = await admin.startWorkflow(retried.name, {});
    await finished(id);
    const page = await signedIn(keys["reader"]!);
    await page.goto(`${url}/runs/${id}`);
    const rows = page.locator('.tl-row[data-task="charge_again"]');
    await rows.nth(1).waitFor();
    assert.equal(await rows.count(), 2, "two attempts");
    const [first, retry] = [rows.nth(0), rows.nth(1)];
    assert.doesNotMatch(await first.innerText(), /retry/);
    assert.equal(await first.locator(".tl-run").getAttribute("data-state"), "FAILED");
    assert.match(await retry.locator(".tl-label").innerText(), /charge_again \(retry 1\)/);
    assert.equal(await retry.locator(".tl-run").getAttribute("data-state"), "COMPLETED");
    // The retry waited out its 1 s delay in the queue before a worker ran it.
    assert.match((await retry.locator(".tl-queued").getAttribute("title")) ?? "", /^queued (\d+\.\d+ s|\d+ m \d+ s)$/);
    assert.match((await retry.locator(".tl-run").getAttribute("title")) ?? "", /^ran .+: COMPLETED$/);
    await page.locator(".timeline").screenshot({ path: path.join(shots, "timeline.png") });
    await page.close();
  });

  it("fails a HUMAN task with an output and a reason typed into the form", async () => {
    const id = await admin.startWorkflow(review.name, {});
    const page = await signedIn(keys["operator"]!);
    await page.goto(`${url}/runs/${id}`);
    await node(page, "review").click();
    await page.locator('[data-panel="review"]').getByRole("button", { name: "Fail" }).click();
    const dialog = page.getByRole("dialog");
    await dialog.getByLabel("Output (JSON object)").fill('{"rejected": "too long"}');
    await dialog.getByLabel("Reason").fill("rejected by the reviewer");
    await dialog.getByRole("button", { name: "Fail" }).click();
    await page.locator('.run-head .badge[data-status="FAILED"]').waitFor({ timeout: 20_000 });
    assert.equal(await node(page, "review").getAttribute("data-state"), "FAILED");
    assert.equal(await node(page, "publish").getAttribute("data-state"), "NOT_TAKEN", "the run ended before the next step");
    const task = (await admin.getWorkflow(id)).tasks.find((t) => t.referenceTaskName === "review");
    assert.deepEqual(task?.outputData, { rejected: "too long" });
    assert.match(task?.reasonForIncompletion ?? "", /rejected by the reviewer/);
    await page.close();
  });

  it("says when a run waits on a task type no worker serves", async () => {
    const id = await admin.startWorkflow(unserved.name, {});
    const page = await signedIn(keys["reader"]!);
    await page.goto(`${url}/runs/${id}`);
    const notice = page.locator(".run-head .unserved");
    await notice.waitFor();
    assert.match(await notice.innerText(), /Waits on task type console_nobody, which no connected worker serves/);
    await page.screenshot({ path: path.join(shots, "unserved.png") });
    // A run whose tasks have workers says nothing of the kind.
    const served = await admin.startWorkflow(approval.name, {});
    await page.goto(`${url}/runs/${served}`);
    await node(page, "approve").waitFor();
    assert.equal(await page.locator(".unserved").count(), 0);
    await admin.terminateWorkflow(id, "test cleanup");
    await admin.terminateWorkflow(served, "test cleanup");
    await page.close();
  });

  it("shows definitions with a version diff, queues with their workers, and event handlers", async () => {
    await admin.registerWorkflowDef({ ...child, version: 2, tasks: [...child.tasks, { name: "console_work", taskReferenceName: "log_sent", type: "SIMPLE" }] });
    const page = await signedIn(keys["reader"]!);
    await page.goto(`${url}/definitions/console_child?version=2&diff=1`);
    await page.locator('g.node[data-ref="log_sent"]').first().waitFor();
    assert.equal(await page.locator('g.node[data-ref="log_sent"]').first().getAttribute("data-state"), "ADDED");
    assert.equal(await page.locator('g.node[data-ref="send_email"]').first().getAttribute("data-state"), "UNCHANGED");
    assert.equal(await page.locator("[data-diff-summary]").innerText(), "v1 → v2: added log_sent");
    await page.getByRole("button", { name: "JSON" }).click();
    assert.match(await page.locator("pre.diff .add").first().innerText(), /log_sent/);
    await page.screenshot({ path: path.join(shots, "definition-diff.png") });
    await page.goto(`${url}/queues`);
    const row = page.locator('tr[data-worker="console-test-worker"]').first();
    await row.waitFor();
    assert.match(await row.innerText(), /console_work|console_flaky/);
    await page.locator('tr[data-queue="console_work"]').waitFor();
    // A type's concurrency and rate limits, from its task definition.
    assert.match(await page.locator('tr[data-queue="console_flaky"]').innerText(), /\b5\b[\s\S]*100 per 10 s/);
    await page.screenshot({ path: path.join(shots, "queues.png") });
    await admin.events.registerEventHandler({
      handlerJson: JSON.stringify({
        name: "console_handler",
        event: "console:approved",
        actions: [{ action: "complete_task", complete_task: { workflowId: "${workflowId}", taskRefName: "approve" } }],
        active: true,
      }),
    });
    await page.goto(`${url}/handlers/console_handler`);
    await page.locator('tr[data-handler="console_handler"]').waitFor();
    assert.match(await page.locator("pre.json").innerText(), /console:approved/);
    await page.close();
  });
});
