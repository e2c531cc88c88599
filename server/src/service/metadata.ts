// MetadataService: definitions in, validated, versioned, content-addressed.
import { shortened } from "@baton/json";
import { grpc, MetadataService, RpcError, stringifyJson, type ServiceImpl, VersionPolicy } from "@baton/protocol";
import { describeIssues, missingTaskDefIssues, validateTaskDef, type TaskDef, type ValidationIssue, type WorkflowDef } from "@baton/sdk";
import { keyIdOfCall } from "../auth/guard.js";
import type { Clock } from "../clock.js";
import type { DefinitionCheck } from "../runtime/definition-check.js";
import { contentHash } from "../runtime/definition-hash.js";
import type { Limits } from "../limits.js";
import { defSummary, type DefSummary, type LatestVersion, type WorkflowDefListing } from "../store/definitions.js";
import { VersionRouted, type Store } from "../store/store.js";
import { definitionProblems } from "./definition-checks.js";
import { inTurn, PublishBudgets, publishLine, type PoolLine } from "./publish-budgets.js";
import type { Queries } from "../sandbox/queries.js";
import { notePayloadText } from "../payload-text.js";
import { invalid, LARGE_STEP_BYTES, notFound, parseLargePayload, rpc } from "./errors.js";
import { BODY_READ, LIST_PAGE_BYTES, listPage, pageOfItems, pageWithinBytes } from "./list-pages.js";

/** Tries at registering a version whose latest moved between hashing and writing (each a registration of the name in between). */
const PUBLISH_ATTEMPTS = 5;

function issues(list: { path: string; message: string }[]) {
  return list.map((i) => ({ path: i.path, message: i.message }));
}

/** What the metadata service needs: definitions are store operations; `changed` drops this replica's caches at once (others hear the NOTIFY). */
export interface MetadataServiceDeps {
  store: Pick<
    Store,
    | "findTaskDefs"
    | "findWorkflowDef"
    | "registerWorkflowVersion"
    | "latestVersion"
    | "listWorkflowDefs"
    | "listTaskDefs"
    | "defsByHash"
    | "putDefSummaries"
    | "putTaskDefs"
    | "deleteWorkflowVersion"
    | "deleteTaskDef"
  >;
  clock: Clock;
  limits: Limits;
  /** Where a definition's inputSchema is compiled. */
  queries: Pick<Queries, "schemaProblem" | "pathProblems" | "checkDefinition" | "storedAs" | "limits">;
  changed: { workflowDef(name: string): void; taskDefs(): void; runsAdmitted?(count: number): Promise<void> };
  /** The line publishes' requests to the queries pool wait in (Conductor's REST port reads publish bodies in it too). */
  publishes?: PoolLine;
}

export function metadataService({ store, clock, limits, queries, changed: forget, publishes }: MetadataServiceDeps): ServiceImpl<typeof MetadataService> {
  const budgets = new PublishBudgets(clock, queries.limits.publishMs);
  // Publishes' requests take one of the pool's threads at most: runs' filters and schemas find the other.
  const line = publishes ?? publishLine();
  const checks = inTurn(queries, line);
  /**
   * The definition `text` holds, read and checked in the queries pool
   * (definition-check.ts): the serving thread never parses, validates or
   * walks it (at 4 MiB each step held it 100-300 ms).
   */
  const checkText = async (text: string): Promise<DefinitionCheck> => {
    if (Buffer.byteLength(text) > limits.definitionBytes) {
      throw invalid(`definition_json is ${Buffer.byteLength(text)} bytes; the limit is ${limits.definitionBytes} bytes`);
    }
    const checked = await line(() => queries.checkDefinition("definition_json", text, limits.definitionBytes));
    if (typeof checked === "string") throw invalid(checked);
    return checked;
  };
  /**
   * The SDK's checks, with a warning for each worker task with no task
   * definition (only the names it lists are looked up, so registering a flow
   * costs the same with ten task definitions stored as with a hundred
   * thousand), then the server's own (definition-checks.ts), their path
   * checks from the caller's budget.
   */
  const check = async (checked: DefinitionCheck, call: unknown) => {
    const found = await store.findTaskDefs([...new Set(checked.workerTasks.map((task) => task.name))]);
    const warnings = [...checked.warnings, ...missingTaskDefIssues(checked.workerTasks, (name) => found.has(name))];
    return { errors: checked.errors.length > 0 ? checked.errors : await definitionProblems(checked, checks, budgets.of(keyIdOfCall(call))), warnings };
  };
  /** The listed versions' content hashes and descriptions: stored with each body, computed (once, then stored) for bodies older than that. */
  const summariesOf = async (rows: WorkflowDefListing[]): Promise<Map<string, DefSummary>> => {
    const out = new Map(rows.flatMap((r) => (r.summary ? [[r.hash, r.summary] as const] : [])));
    const missing = rows.filter((r) => !r.summary).map((r) => r.hash);
    for (let i = 0; i < missing.length; i += BODY_READ) {
      const filled = new Map([...(await store.defsByHash(missing.slice(i, i + BODY_READ)))].map(([hash, def]) => [hash, defSummary(def)]));
      await store.putDefSummaries(filled);
      for (const [hash, summary] of filled) out.set(hash, summary);
    }
    return out;
  };
  /** The summary of a body stored before summaries were: made once, and kept. */
  const storedSummary = async (hash: string, def: WorkflowDef): Promise<DefSummary> => {
    const summary = defSummary(def);
    await store.putDefSummaries(new Map([[hash, summary]]));
    return summary;
  };
  /** The page's definitions as JSON, read a few at a time and stopped once past LIST_PAGE_BYTES (at least one). */
  const bodiesOf = async (rows: WorkflowDefListing[]): Promise<string[]> => {
    const out: string[] = [];
    let bytes = 0;
    for (let i = 0; i < rows.length && bytes < LIST_PAGE_BYTES; i += BODY_READ) {
      const chunk = rows.slice(i, i + BODY_READ);
      const defs = await store.defsByHash(chunk.map((r) => r.hash));
      for (const row of chunk) {
        if (bytes >= LIST_PAGE_BYTES) break;
        const text = stringifyJson(defs.get(row.hash) ?? {});
        bytes += Buffer.byteLength(text);
        out.push(text);
      }
    }
    return out;
  };
  /**
   * Writes the definition `text` holds as the version its policy gives: as
   * the text it came as under its own version, else as the queries pool
   * writes and hashes it for that version (at 4 MiB hashing holds a thread
   * for hundreds of ms). If the latest version moved in between, again.
   */
  const registerVersion = async (text: string, checked: DefinitionCheck, nextIfChanged: boolean) => {
    const versionAfter = (latest: LatestVersion | undefined) => (nextIfChanged && latest ? latest.version + 1 : (checked.version ?? 1));
    // The content hash leaves the version out: the same whichever version is written.
    const unchanged = (latest: LatestVersion | undefined) =>
      nextIfChanged && latest && (latest.contentHash ?? contentHash(latest.def!)) === checked.contentHash;
    for (let attempt = 1; ; attempt++) {
      const latest = nextIfChanged ? await store.latestVersion(checked.name) : undefined;
      const version = versionAfter(latest);
      const stored =
        version === checked.version ? { hash: checked.hash, text } : unchanged(latest) ? undefined : await line(() => queries.storedAs(text, version));
      const result = await store.registerWorkflowVersion(checked.name, clock.now(), (now) => {
        if (unchanged(now)) return { unchanged: now!.version };
        if (versionAfter(now) !== version || !stored) return { retry: true };
        const body = { text: stored.text, contentHash: checked.contentHash, description: checked.description };
        return { body, runLimit: checked.runLimit, version, hash: stored.hash };
      });
      if (result) return result;
      if (attempt === PUBLISH_ATTEMPTS)
        throw new RpcError(grpc.status.ABORTED, `workflow ${shortened(checked.name)} was published meanwhile ${attempt} times; retry`);
    }
  };
  return {
    registerWorkflowDef: rpc(async (req, call) => {
      const checked = await checkText(req.definitionJson);
      const { errors, warnings } = await check(checked, call);
      if (errors.length > 0) throw invalid(`invalid workflow definition (${errors.length} error${errors.length > 1 ? "s" : ""}): ${describeIssues(errors)}`);
      const result = await registerVersion(req.definitionJson, checked, req.versionPolicy === VersionPolicy.NEXT_IF_CHANGED);
      // Here at once; other replicas on the NOTIFY sent at commit.
      if (result.changed) forget.workflowDef(checked.name);
      // Runs waiting for a slot that the new limit admitted start before the answer.
      if (result.admitted > 0) await forget.runsAdmitted?.(result.admitted);
      return { name: checked.name, version: result.version, changed: result.changed, contentHash: checked.contentHash, warnings: issues(warnings) };
    }),

    getWorkflowDef: rpc(async (req) => {
      const found = await store.findWorkflowDef(req.name, req.version);
      if (!found) throw notFound(`no workflow definition ${shortened(req.name)}${req.version !== undefined ? ` version ${req.version}` : ""}`);
      return { definitionJson: stringifyJson(found.def), contentHash: found.contentHash ?? (await storedSummary(found.hash, found.def)).contentHash };
    }),

    listWorkflowDefs: rpc(async (req) => {
      const page = listPage("workflow-defs", req.allVersions ? 2 : 1, req.pageSize, req.pageToken);
      const rows = await store.listWorkflowDefs(req.name, req.allVersions, { limit: page.limit + 1, ...(page.after ? { after: page.after } : {}) });
      const keyOf = (r: WorkflowDefListing): [string] | [string, number] => (req.allVersions ? [r.name, r.version] : [r.name]);
      const shown = pageOfItems("workflow-defs", page, rows, keyOf);
      const summaries = await summariesOf(shown.items);
      const bodies = req.withDefinitionJson ? await bodiesOf(shown.items) : undefined;
      const listed = bodies ? shown.items.slice(0, bodies.length) : shown.items;
      const definitions = listed.map((row, i) => ({
        name: row.name,
        version: row.version,
        contentHash: summaries.get(row.hash)?.contentHash ?? row.hash,
        createTimeMs: BigInt(row.createdAt),
        description: summaries.get(row.hash)?.description ?? "",
        definitionJson: bodies?.[i] ?? "",
      }));
      // A page cut short by its bytes goes on after its last definition.
      const cut = listed.length < shown.items.length;
      return {
        definitions,
        nextPageToken: cut ? pageOfItems("workflow-defs", { limit: listed.length }, shown.items, keyOf).nextPageToken : shown.nextPageToken,
      };
    }),

    validateWorkflowDef: rpc(async (req, call) => {
      const { errors, warnings } = await check(await checkText(req.definitionJson), call);
      return { valid: errors.length === 0, errors: issues(errors), warnings: issues(warnings) };
    }),

    registerTaskDefs: rpc(async (req) => {
      const defs: TaskDef[] = [];
      const problems: ValidationIssue[] = [];
      // Each may be as large as a definition: a large one is read a step per turn, in line with other large payloads.
      for (const [i, text] of req.taskDefJson.entries()) {
        const def = (await parseLargePayload(`task_def_json[${i}]`, text, limits.definitionBytes, LARGE_STEP_BYTES)) as unknown as TaskDef;
        // Written as its text, not written out again.
        notePayloadText(def, text);
        for (const e of validateTaskDef(def)) problems.push({ path: `task_def_json[${i}] ${e.path || "/"}`, message: e.message });
        defs.push(def);
      }
      if (problems.length > 0) throw invalid(`invalid task definition: ${describeIssues(problems)}`);
      const changed = await store.putTaskDefs(defs, clock.now());
      if (changed.length > 0) forget.taskDefs();
      return { names: defs.map((d) => d.name), changed };
    }),

    getTaskDef: rpc(async (req) => {
      const def = (await store.findTaskDefs([req.name])).get(req.name);
      if (!def) throw notFound(`no task definition ${req.name}`);
      return { taskDefJson: stringifyJson(def) };
    }),

    // Conductor's semantics: removal is allowed while runs use the definition; they keep what they pinned.
    deleteWorkflowDef: rpc(async (req) => {
      if (!req.name) throw invalid("name is required");
      if (req.version < 1) throw invalid("version is required (1 or more): one version is removed at a time");
      let left: { latest: number } | undefined;
      try {
        left = await store.deleteWorkflowVersion(req.name, req.version);
      } catch (error) {
        if (error instanceof VersionRouted) throw new RpcError(grpc.status.FAILED_PRECONDITION, error.message);
        throw error;
      }
      if (!left) throw notFound(`no workflow definition ${shortened(req.name)} version ${req.version}`);
      forget.workflowDef(req.name);
      return { latestVersion: left.latest };
    }),

    deleteTaskDef: rpc(async (req) => {
      if (!req.name) throw invalid("name is required");
      if (!(await store.deleteTaskDef(req.name))) throw notFound(`no task definition ${req.name}`);
      forget.taskDefs();
      return {};
    }),

    listTaskDefs: rpc(async (req) => {
      const page = listPage("task-defs", 1, req.pageSize, req.pageToken);
      const shown = await pageWithinBytes(
        "task-defs",
        page,
        (after, limit, room) => store.listTaskDefs({ limit, ...(after ? { after: after as [string] } : {}) }, room),
        (def) => [def.name],
      );
      return { taskDefJson: shown.items.map((def) => stringifyJson(def)), nextPageToken: shown.nextPageToken };
    }),
  };
}
