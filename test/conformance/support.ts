// Shared by the conformance tests: Conductor's own fixtures, the task
// definitions its test harness registers, and helpers to drive and inspect runs.
import { readdirSync, readFileSync } from "node:fs";
import { after, afterEach, before } from "node:test";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { ConductorTask, ConductorWorkflow } from "@baton/client";
import { eventually, startHarness, type Harness } from "../support/harness.js";

/** Conductor's fixture files: BATON_FIXTURES, else the checkout's sibling shared/conformance/conductor. */
export const FIXTURES = process.env["BATON_FIXTURES"] || path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../shared/conformance/conductor");

export type Fixture = Record<string, unknown> & { name: string; tasks?: unknown[] };

export function fixture(file: string): Fixture {
  return JSON.parse(readFileSync(path.join(FIXTURES, file), "utf8")) as Fixture;
}

/** Every fixture file; event handlers (they have `event` and `actions`) are not workflows. */
export function fixtureFiles(): { workflows: string[]; eventHandlers: string[] } {
  const files = readdirSync(FIXTURES)
    .filter((f) => f.endsWith(".json"))
    .sort();
  const workflows: string[] = [];
  const eventHandlers: string[] = [];
  for (const file of files) {
    const body = fixture(file);
    if ("event" in body && "actions" in body) eventHandlers.push(file);
    else workflows.push(file);
  }
  return { workflows, eventHandlers };
}

/** The task definitions Conductor's test harness registers before the fixtures (SCENARIOS.md). */
export const TASK_DEFS: Record<string, unknown>[] = [
  ...Array.from({ length: 21 }, (_, i) => ({ name: `integration_task_${i}`, retryCount: 1, timeoutSeconds: 120, responseTimeoutSeconds: 120 })),
  ...Array.from({ length: 5 }, (_, i) => ({ name: `integration_task_0_RT_${i}`, retryCount: 0 })),
  { name: "task_rt", retryCount: 1, retryDelaySeconds: 0, responseTimeoutSeconds: 10 },
  { name: "task_optional", timeoutSeconds: 5, retryCount: 1, timeoutPolicy: "RETRY", responseTimeoutSeconds: 5 },
  { name: "waitTimeout", timeoutSeconds: 2, timeoutPolicy: "RETRY", retryCount: 1, retryDelaySeconds: 10 },
  { name: "test_task_with_concurrency_limit", concurrentExecLimit: 1 },
  { name: "test_task_with_rateLimits", rateLimitPerFrequency: 1, rateLimitFrequencyInSeconds: 10 },
  { name: "test_simple_task_with_rateLimits", rateLimitPerFrequency: 1, rateLimitFrequencyInSeconds: 10 },
  { name: "sub_workflow_task" },
  { name: "user_task" },
  { name: "eventX" },
  { name: "short_time_out" },
];

export function taskDef(name: string): Record<string, unknown> {
  const def = TASK_DEFS.find((d) => d["name"] === name);
  if (!def) throw new Error(`no task def ${name}`);
  return def;
}

/**
 * Registers every workflow fixture unchanged. Sub-workflows are referenced by
 * name at run time, so the order does not matter for registration; a failing
 * file is reported with the server's message.
 */
export async function registerAll(h: Harness): Promise<{ registered: string[]; failed: { file: string; error: string }[] }> {
  await h.client.registerTaskDefs(TASK_DEFS);
  const registered: string[] = [];
  const failed: { file: string; error: string }[] = [];
  for (const file of fixtureFiles().workflows) {
    try {
      await h.client.registerWorkflowDef(fixture(file));
      registered.push(file);
    } catch (error) {
      failed.push({ file, error: (error as Error).message });
    }
  }
  return { registered, failed };
}

/** A harness with the task defs and every fixture registered. */
export async function conformanceHarness(): Promise<Harness> {
  const h = await startHarness();
  const { failed } = await registerAll(h);
  if (failed.length > 0) throw new Error(`fixtures not registered: ${JSON.stringify(failed)}`);
  return h;
}

/**
 * A test file's hooks: before its tests, a conformance harness handed to
 * `use` (which keeps it, and may register more); after each test, the runs it
 * left open are ended; after all, the harness is closed.
 */
export function conformanceHooks(use: (h: Harness) => void | Promise<void>): void {
  let h: Harness;
  before(async () => {
    h = await conformanceHarness();
    await use(h);
  });
  afterEach(() => terminateOpenRuns(h));
  after(() => h.close());
}

/** Overrides task definitions for the length of `fn`, then restores the harness's own. */
export async function withTaskDefs<T>(h: Harness, defs: Record<string, unknown>[], fn: () => Promise<T>): Promise<T> {
  await h.client.registerTaskDefs(defs);
  try {
    return await fn();
  } finally {
    await h.client.registerTaskDefs(defs.map((d) => TASK_DEFS.find((t) => t["name"] === d["name"]) ?? { name: d["name"] }));
  }
}

/** Ends every run still open, so the next test polls only its own tasks. */
export async function terminateOpenRuns(h: Harness): Promise<void> {
  for (let round = 0; round < 5; round++) {
    const { workflows } = await h.client.searchWorkflows({ statuses: ["RUNNING", "PAUSED"], pageSize: 1000 });
    if (workflows.length === 0) return;
    for (const run of workflows) await h.client.terminateWorkflow(run.workflowId, "test cleanup").catch(() => {});
    await h.settle();
  }
}

export const refs = (run: ConductorWorkflow): string[] => run.tasks.map((t) => t.referenceTaskName);
export const statuses = (run: ConductorWorkflow): [string, string][] => run.tasks.map((t) => [t.referenceTaskName, t.status]);
export const typesAndStatuses = (run: ConductorWorkflow): [string, string][] => run.tasks.map((t) => [t.taskType, t.status]);

export function task(run: ConductorWorkflow, ref: string): ConductorTask {
  const found = [...run.tasks].reverse().find((t) => t.referenceTaskName === ref);
  if (!found) throw new Error(`no task ${ref} in ${JSON.stringify(statuses(run))}`);
  return found;
}

/** Waits until the run has the status (cross-run effects land after the call that caused them). */
export async function waitForStatus(h: Harness, id: string, status: string, timeoutMs = 10_000): Promise<ConductorWorkflow> {
  return eventually(
    async () => {
      await h.settle();
      return h.client.getWorkflow(id);
    },
    (run) => run.status === status,
    timeoutMs,
  );
}

/** Waits until `check` holds for the run. */
export async function waitForRun(h: Harness, id: string, check: (run: ConductorWorkflow) => boolean, timeoutMs = 10_000): Promise<ConductorWorkflow> {
  return eventually(
    async () => {
      await h.settle();
      return h.client.getWorkflow(id);
    },
    check,
    timeoutMs,
  );
}
