// /api/workflow: starts (plain, by name, start-and-wait), reads, search, the
// operator's actions, correlation and running-id lists, and the bulk forms.
import { shortened } from "@baton/json";
import { create } from "@bufbuild/protobuf";
import {
  ExecuteWorkflowRequestSchema,
  GetWorkflowRequestSchema,
  PauseWorkflowRequestSchema,
  RerunWorkflowRequestSchema,
  RestartWorkflowRequestSchema,
  ResumeWorkflowRequestSchema,
  RetryWorkflowRequestSchema,
  RunOrder,
  SearchWorkflowsRequestSchema,
  SkipTaskRequestSchema,
  StartWorkflowRequestSchema,
  TerminateWorkflowRequestSchema,
  WorkflowStatus,
  stringifyJson,
  type Workflow,
} from "@baton/protocol";
import type { StartView } from "./body-views.js";
import { badRequest, toHttpError } from "./errors.js";
import type { Reply, Request, Route } from "./http.js";
import { parseSort, parseWorkflowQuery, runComparator, type WorkflowQuery } from "./query.js";
import { IDS, RERUN_REQUEST, SKIP_REQUEST } from "./schemas.js";
import { boolParam, callOf, intParam, type Services } from "./services.js";
import { listJson, toWorkflow, toWorkflowSummary, workflowBytes, workflowJson, workflowListJson } from "./shapes.js";
import { runsWithinBytes } from "./whole-lists.js";
import { isUuid } from "../rules/ids.js";

/** Who asks, and when they went away: a search runs as its caller's key. */
type Caller = Pick<Request, "signal" | "principal">;

const WF = "baton.v1.WorkflowService";
const OPEN = ["RUNNING", "PAUSED"];

/**
 * The most searches one query makes: each workflowType with each
 * correlationId is a search of its own, and a URL's IN (...) lists could
 * hold thousands of each (millions of searches for one call).
 */
const MAX_SEARCH_LISTS = 100;

export function workflowRoutes(s: Services): Route[] {
  const startRequest = (start: StartView) => create(StartWorkflowRequestSchema, start);

  // As its key: a key's starts in flight are a share of the server's (start-shares.ts).
  const start = async (body: StartView, by: Caller) => (await s.workflows.startWorkflow(startRequest(body), callOf(by.signal, by.principal))).workflowId;

  const get = async (workflowId: string, includeTasks: boolean, signal: AbortSignal): Promise<Workflow> =>
    (await s.workflows.getWorkflow(create(GetWorkflowRequestSchema, { workflowId, includeTasks }), callOf(signal))).workflow!;

  /**
   * Runs matching a query, in `order`, at most `limit` (paging through the
   * service). `payloads`: false keeps none of a run's input, output and
   * variables (a list of ids); kept, they are bounded (runsWithinBytes).
   */
  const find = async (q: WorkflowQuery, order: RunOrder, limit: number, by: Caller, payloads = true): Promise<Workflow[]> => {
    const { signal } = by;
    const held = runsWithinBytes("narrow the query (workflowType, status, startTime), or ask for fewer runs (start + size)");
    const keep = (run: Workflow) => {
      if (!payloads) run.inputJson = run.outputJson = run.variablesJson = "";
      held(run);
      return run;
    };
    const lists = Math.max(q.names.length, 1) * Math.max(q.correlationIds.length, 1);
    if (lists > MAX_SEARCH_LISTS)
      throw badRequest(
        `query: ${q.names.length} workflowTypes and ${q.correlationIds.length} correlationIds make ${lists} searches, over ${MAX_SEARCH_LISTS}; shorten the IN (...) lists`,
      );
    const statuses = q.statuses.map((name) => {
      const value = WorkflowStatus[name.toUpperCase() as keyof typeof WorkflowStatus];
      if (value === undefined || name.toUpperCase() === "UNSPECIFIED")
        throw badRequest(`query: no workflow status ${shortened(name)}; use RUNNING, COMPLETED, FAILED, TIMED_OUT, TERMINATED or PAUSED`);
      return value;
    });
    if (q.workflowIds.length > 0) {
      const runs: Workflow[] = [];
      for (const id of q.workflowIds) {
        const run = isUuid(id) ? await get(id, false, signal).catch(() => undefined) : undefined;
        if (run && matches(run, q, statuses)) runs.push(keep(run));
      }
      return runs.sort(runComparator(order)).slice(0, limit);
    }
    const out: Workflow[] = [];
    for (const name of q.names.length > 0 ? q.names : [""]) {
      for (const correlationId of q.correlationIds.length > 0 ? q.correlationIds : [""]) {
        let pageToken = "";
        do {
          const page = await s.workflows.searchWorkflows(
            create(SearchWorkflowsRequestSchema, {
              name,
              statuses,
              correlationId,
              startTimeFromMs: BigInt(q.from ?? 0),
              startTimeToMs: BigInt(q.to === undefined || !Number.isFinite(q.to) ? 0 : q.to),
              pageSize: Math.min(limit - out.length, 1000),
              pageToken,
              ...(q.version !== undefined ? { version: q.version } : {}),
              order,
              withoutPayloads: !payloads,
            }),
            // As its key: searches wait their key's turn (search-lane.ts).
            callOf(signal, by.principal),
          );
          for (const run of page.workflows) out.push(keep(run));
          pageToken = page.nextPageToken;
        } while (pageToken && out.length < limit);
      }
    }
    // Several names or correlation ids: one list each, merged in the same order.
    return out.sort(runComparator(order)).slice(0, limit);
  };

  /** Conductor's search: query grammar, free text (a run id, or a correlation id), sort, start + size paging. */
  const search = async (query: URLSearchParams, by: Caller) => {
    const start = intParam(query, "start", 0);
    const size = intParam(query, "size", 100);
    if (start < 0 || size < 0) throw badRequest("start and size must not be negative");
    if (start + size > 10_000) throw badRequest("start + size is at most 10000; narrow the query (status, workflowType, startTime)");
    const q = parseWorkflowQuery(query.get("query") ?? "");
    const order = parseSort(query.get("sort") ?? "");
    const freeText = (query.get("freeText") ?? "*").trim();
    if (freeText !== "" && freeText !== "*") {
      if (isUuid(freeText)) q.workflowIds.push(freeText);
      else q.correlationIds.push(freeText);
    }
    const found = await find(q, order, start + size + 1, by);
    const results = found.slice(start, start + size);
    return { totalHits: found.length, results };
  };

  /** Conductor's search (runs as summaries) and search-v2 (whole runs), written in slices: a page may hold thousands, each with its payloads. */
  const searchRoute = (path: string, write: (runs: Workflow[]) => Promise<string[]>): Route => ({
    method: "GET",
    path,
    rights: `${WF}/SearchWorkflows`,
    handle: async (r) => {
      const { totalHits, results } = await search(r.query, r);
      return { jsonPieces: [`{"totalHits":${totalHits},"results":`, ...(await write(results)), "}"] };
    },
  });

  const operate = (
    path: string,
    method: "PUT" | "POST",
    rpc: string,
    act: (id: string, query: URLSearchParams, signal: AbortSignal) => Promise<unknown>,
    status: 200 | 204,
  ): Route => ({
    method,
    path,
    rights: `${WF}/${rpc}`,
    body: "none",
    handle: async (r) => {
      await act(r.params["workflowId"] ?? "", r.query, r.signal);
      return { status };
    },
  });

  const pause = (id: string, _q: URLSearchParams, signal: AbortSignal) =>
    s.workflows.pauseWorkflow(create(PauseWorkflowRequestSchema, { workflowId: id }), callOf(signal));
  const resume = (id: string, _q: URLSearchParams, signal: AbortSignal) =>
    s.workflows.resumeWorkflow(create(ResumeWorkflowRequestSchema, { workflowId: id }), callOf(signal));
  const retry = (id: string, q: URLSearchParams, signal: AbortSignal) =>
    s.workflows.retryWorkflow(
      create(RetryWorkflowRequestSchema, { workflowId: id, resumeSubworkflowTasks: boolParam(q, "resumeSubworkflowTasks", false) }),
      callOf(signal),
    );
  const restart = (id: string, q: URLSearchParams, signal: AbortSignal) =>
    s.workflows.restartWorkflow(
      create(RestartWorkflowRequestSchema, { workflowId: id, useLatestDefinition: boolParam(q, "useLatestDefinitions", false) }),
      callOf(signal),
    );
  const terminate = (id: string, q: URLSearchParams, signal: AbortSignal) =>
    s.workflows.terminateWorkflow(create(TerminateWorkflowRequestSchema, { workflowId: id, reason: q.get("reason") ?? "" }), callOf(signal));

  /** Conductor's bulk form: each id on its own, successes and errors listed. */
  const bulk = (
    path: string,
    method: "PUT" | "POST",
    rpc: string,
    act: (id: string, query: URLSearchParams, signal: AbortSignal) => Promise<unknown>,
  ): Route => ({
    method,
    path,
    rights: `${WF}/${rpc}`,
    schema: IDS,
    handle: async (r) => {
      const ids = r.body as string[];
      if (ids.length > 1000) throw badRequest("a bulk request takes at most 1000 workflow ids");
      const bulkErrorResults: Record<string, string> = {};
      const bulkSuccessfulResults: string[] = [];
      for (const id of ids) {
        try {
          await act(id, r.query, r.signal);
          bulkSuccessfulResults.push(id);
        } catch (error) {
          bulkErrorResults[id] = toHttpError(error).message;
        }
      }
      return { json: { bulkErrorResults, bulkSuccessfulResults } };
    },
  });

  const correlatedBytes = () => runsWithinBytes("leave out includeTasks and read the runs one by one, or ask for open runs only (includeClosed=false)");
  /** The runs of a correlation id; `held` counts what the whole answer holds (one counter for all ids of a request). */
  const correlated = async (name: string, correlationId: string, query: URLSearchParams, by: Caller, held = correlatedBytes()) => {
    const includeClosed = boolParam(query, "includeClosed", false);
    const includeTasks = boolParam(query, "includeTasks", false);
    const runs = await find(
      { names: [name], statuses: includeClosed ? [] : OPEN, correlationIds: [correlationId], workflowIds: [] },
      RunOrder.START_DESC,
      1000,
      by,
    );
    const out: Workflow[] = [];
    for (const run of runs) {
      const shown = includeTasks ? await get(run.workflowId, true, by.signal) : run;
      held(shown);
      out.push(shown);
    }
    // Written in slices: with their tasks, the runs of one correlation id may hold thousands.
    return workflowListJson(out);
  };

  return [
    {
      method: "POST",
      path: "/api/workflow",
      rights: `${WF}/StartWorkflow`,
      touches: (r) => ({ definition: (r.body as StartView).definitionJson !== "" }),
      view: "start",
      handle: async (r) => ({ text: await start(r.body as StartView, r) }),
    },
    {
      method: "POST",
      path: "/api/workflow/:name",
      rights: `${WF}/StartWorkflow`,
      view: "input",
      handle: async (r) => {
        const version = intParam(r.query, "version", 0);
        const priority = intParam(r.query, "priority", 0);
        if (priority < 0 || priority > 99) throw badRequest("priority must be between 0 and 99");
        const body: StartView = {
          name: r.params["name"] ?? "",
          ...(version ? { version } : {}),
          correlationId: r.query.get("correlationId") ?? "",
          inputJson: (r.body as { inputJson: string }).inputJson,
          priority,
          idempotencyKey: "",
          definitionJson: "",
        };
        return { text: await start(body, r) };
      },
    },
    {
      method: "POST",
      path: "/api/workflow/execute/:name/:version",
      rights: `${WF}/ExecuteWorkflow`,
      touches: (r) => ({ definition: (r.body as StartView).definitionJson !== "" }),
      view: "execution",
      handle: async (r) => {
        const body = r.body as StartView;
        const version = Number(r.params["version"]);
        if (!Number.isInteger(version) || version < 1) throw badRequest(`version must be a positive integer, not ${r.params["version"]}`);
        const waitForSeconds = intParam(r.query, "waitForSeconds", 10);
        const { workflow } = await s.workflows.executeWorkflow(
          create(ExecuteWorkflowRequestSchema, {
            start: startRequest({ ...body, version }),
            waitMs: BigInt(Math.max(waitForSeconds, 0) * 1000),
          }),
          callOf(r.signal, r.principal),
        );
        return { jsonPieces: await workflowJson(workflow!, { requestId: r.query.get("requestId") ?? "" }) };
      },
    },
    searchRoute("/api/workflow/search", (runs) => listJson(runs, (run) => [stringifyJson(toWorkflowSummary(run))])),
    searchRoute("/api/workflow/search-v2", workflowListJson),
    {
      method: "GET",
      path: "/api/workflow/running/:name",
      rights: `${WF}/SearchWorkflows`,
      handle: async (r) => {
        const version = intParam(r.query, "version", 0);
        const from = intParam(r.query, "startTime", 0);
        const to = intParam(r.query, "endTime", 0);
        // The version is the search's (a statement's condition): filtered after, runs of it behind 10,000 newer ones of another were missed.
        const runs = await find(
          {
            names: [r.params["name"] ?? ""],
            statuses: ["RUNNING"],
            correlationIds: [],
            workflowIds: [],
            ...(from ? { from } : {}),
            ...(to ? { to } : {}),
            ...(version ? { version } : {}),
          },
          RunOrder.START_DESC,
          10_000,
          r,
          false,
        );
        return { json: runs.map((w) => w.workflowId) };
      },
    },
    {
      method: "GET",
      path: "/api/workflow/:name/correlated/:correlationId",
      rights: `${WF}/SearchWorkflows`,
      handle: async (r) => ({ jsonPieces: await correlated(r.params["name"] ?? "", r.params["correlationId"] ?? "", r.query, r) }),
    },
    {
      method: "POST",
      path: "/api/workflow/:name/correlated",
      rights: `${WF}/SearchWorkflows`,
      schema: IDS,
      handle: async (r) => {
        const ids = new Set(r.body as string[]);
        if (ids.size > 1000) throw badRequest("a correlated request takes at most 1000 correlation ids");
        const out: Record<string, string[]> = {};
        const held = correlatedBytes();
        for (const id of ids) out[id] = await correlated(r.params["name"] ?? "", id, r.query, r, held);
        // The object's keys in the order stringifyJson would write them.
        const pieces = ["{"];
        for (const [i, id] of Object.keys(out).entries()) pieces.push(`${i > 0 ? "," : ""}${stringifyJson(id)}:`, ...out[id]!);
        pieces.push("}");
        return { jsonPieces: pieces };
      },
    },
    {
      method: "GET",
      path: "/api/workflow/:workflowId",
      rights: `${WF}/GetWorkflow`,
      // Readers of one run at once are given one reply by the service, written out once for them all.
      handle: async (r) => ({ jsonPieces: await workflowBytes(await get(r.params["workflowId"] ?? "", boolParam(r.query, "includeTasks", true), r.signal)) }),
    },
    {
      method: "GET",
      path: "/api/workflow/:workflowId/status",
      rights: `${WF}/GetWorkflow`,
      handle: async (r) => {
        const run = toWorkflow(await get(r.params["workflowId"] ?? "", false, r.signal));
        return {
          json: {
            workflowId: run["workflowId"],
            ...(run["correlationId"] ? { correlationId: run["correlationId"] } : {}),
            ...(boolParam(r.query, "includeOutput", false) ? { output: run["output"] } : {}),
            ...(boolParam(r.query, "includeVariables", false) ? { variables: run["variables"] } : {}),
            status: run["status"],
          },
        };
      },
    },
    {
      method: "DELETE",
      path: "/api/workflow/:workflowId",
      rights: `${WF}/TerminateWorkflow`,
      handle: async (r): Promise<Reply> => {
        await terminate(r.params["workflowId"] ?? "", r.query, r.signal);
        return undefined;
      },
    },
    operate("/api/workflow/:workflowId/pause", "PUT", "PauseWorkflow", pause, 200),
    operate("/api/workflow/:workflowId/resume", "PUT", "ResumeWorkflow", resume, 200),
    operate("/api/workflow/:workflowId/retry", "POST", "RetryWorkflow", retry, 204),
    operate("/api/workflow/:workflowId/restart", "POST", "RestartWorkflow", restart, 204),
    {
      method: "PUT",
      path: "/api/workflow/:workflowId/skiptask/:taskReferenceName",
      rights: `${WF}/SkipTask`,
      schema: SKIP_REQUEST,
      handle: async (r) => {
        const output = (r.body as { taskOutput?: Record<string, unknown> | null } | undefined)?.taskOutput;
        await s.workflows.skipTask(
          create(SkipTaskRequestSchema, {
            workflowId: r.params["workflowId"] ?? "",
            taskReferenceName: r.params["taskReferenceName"] ?? "",
            outputJson: output ? stringifyJson(output) : "",
          }),
          callOf(r.signal),
        );
        return undefined;
      },
    },
    {
      method: "POST",
      path: "/api/workflow/:workflowId/rerun",
      rights: `${WF}/RerunWorkflow`,
      schema: RERUN_REQUEST,
      handle: async (r) => {
        const workflowId = r.params["workflowId"] ?? "";
        const body = r.body as { reRunFromTaskId?: string | null; taskInput?: object | null; workflowInput?: object | null };
        // No task named: Conductor reruns the whole run, i.e. from its first task.
        let taskId = body.reRunFromTaskId ?? "";
        if (!taskId) {
          const run = await get(workflowId, true, r.signal);
          taskId = run.tasks[0]?.taskId ?? "";
          if (!taskId) throw badRequest(`run ${workflowId} has no task to rerun from`);
        }
        await s.workflows.rerunWorkflow(
          create(RerunWorkflowRequestSchema, {
            workflowId,
            taskId,
            taskInputJson: body.taskInput ? stringifyJson(body.taskInput) : "",
            workflowInputJson: body.workflowInput ? stringifyJson(body.workflowInput) : "",
          }),
          callOf(r.signal),
        );
        return { text: workflowId };
      },
    },
    bulk("/api/workflow/bulk/pause", "PUT", "PauseWorkflow", pause),
    bulk("/api/workflow/bulk/resume", "PUT", "ResumeWorkflow", resume),
    bulk("/api/workflow/bulk/retry", "POST", "RetryWorkflow", retry),
    bulk("/api/workflow/bulk/restart", "POST", "RestartWorkflow", restart),
    bulk("/api/workflow/bulk/terminate", "POST", "TerminateWorkflow", terminate),
  ];
}

function matches(run: Workflow, q: WorkflowQuery, statuses: WorkflowStatus[]): boolean {
  const created = Number(run.createTimeMs);
  return (
    (q.names.length === 0 || q.names.includes(run.workflowName)) &&
    (statuses.length === 0 || statuses.includes(run.status)) &&
    (q.correlationIds.length === 0 || q.correlationIds.includes(run.correlationId)) &&
    (q.from === undefined || created >= q.from) &&
    (q.to === undefined || created < q.to) &&
    (q.version === undefined || run.workflowVersion === q.version)
  );
}
