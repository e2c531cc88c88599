// MetadataService: definitions in, validated, versioned, content-addressed.
import { shortened } from "@baton/json";
import { grpc, MetadataService, RpcError, stringifyJson, type ServiceImpl, VersionPolicy } from "@baton/protocol";
import { describeIssues, taskNamesOf, validateTaskDef, validateWorkflowDef, type TaskDef, type ValidationIssue, type WorkflowDef } from "@baton/sdk";
import { keyIdOfCall } from "../auth/guard.js";
import type { Clock } from "../clock.js";
import { contentHash } from "../runtime/definition-hash.js";
import type { Limits } from "../limits.js";
import { defSummary, type DefSummary, type LatestVersion, type WorkflowDefListing } from "../store/definitions.js";
import { notePayloadText } from "../payload-text.js";
import { VersionRouted, type Store } from "../store/store.js";
import { definitionProblems } from "./definition-checks.js";
import { inTurn, PublishBudgets } from "./publish-budgets.js";
import type { Queries } from "../sandbox/queries.js";
import { invalid, LARGE_STEP_BYTES, notFound, parseLargePayload, parsePayload, rpc, stepOn } from "./errors.js";
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
  queries: Pick<Queries, "schemaProblem" | "pathProblems" | "identity" | "limits">;
  changed: { workflowDef(name: string): void; taskDefs(): void; runsAdmitted?(count: number): Promise<void> };
}

export function metadataService({ store, clock, limits, queries, changed: forget }: MetadataServiceDeps): ServiceImpl<typeof MetadataService> {
  /**
   * Which task definitions exist, of those a workflow definition names: only
   * those are looked up, so registering a flow costs the same with ten task
   * definitions stored as with a hundred thousand.
   */
  const hasTaskDef = async (def: WorkflowDef) => {
    const defs = await store.findTaskDefs(await stepOn(def, () => taskNamesOf(def)));
    return (name: string) => defs.has(name);
  };
  const parseDef = async (text: string): Promise<WorkflowDef> => {
    if (Buffer.byteLength(text) > limits.definitionBytes) {
      throw invalid(`definition_json is ${Buffer.byteLength(text)} bytes; the limit is ${limits.definitionBytes} bytes`);
    }
    // A large one read in steps in line with other large payloads (parseLargePayload).
    const def = (await parseLargePayload("definition_json", text, limits.definitionBytes, LARGE_STEP_BYTES)) as unknown as WorkflowDef;
    // Its hashes are computed in the queries pool from this text; its size says its checks are large steps.
    notePayloadText(def, text);
    return def;
  };
  const budgets = new PublishBudgets(clock, queries.limits.publishMs);
  const checks = inTurn(queries);
  /** The SDK's checks, then the server's own (definition-checks.ts), their path checks from the caller's budget. */
  const check = async (def: WorkflowDef, call: unknown) => {
    const known = await hasTaskDef(def);
    const { errors, warnings } = await stepOn(def, () => validateWorkflowDef(def, { hasTaskDef: known }));
    return { errors: errors.length > 0 ? errors : await definitionProblems(def, checks, budgets.of(keyIdOfCall(call))), warnings };
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
   * Writes `def` as the version its policy gives, hashed in the queries pool
   * for that version beforehand (at 4 MiB hashing holds a thread for
   * hundreds of ms). If the latest version moved in between, hashed again.
   */
  const registerVersion = async (def: WorkflowDef, nextIfChanged: boolean) => {
    const versionAfter = (latest: LatestVersion | undefined) => (nextIfChanged && latest ? latest.version + 1 : (def.version ?? 1));
    for (let attempt = 1; ; attempt++) {
      const version = versionAfter(nextIfChanged ? await store.latestVersion(def.name) : undefined);
      // The content hash leaves the version out: the same whichever version is written.
      const { contentHash: hash, hashes } = await queries.identity(def, [version]);
      const result = await store.registerWorkflowVersion(def.name, clock.now(), (latest) => {
        if (nextIfChanged && latest && (latest.contentHash ?? contentHash(latest.def!)) === hash) return { unchanged: latest.version };
        if (versionAfter(latest) !== version) return { retry: true };
        // Under the version it gives, it is stored as the text it came as.
        return { def: version === def.version ? def : { ...def, version }, version, hash: hashes[0]!, contentHash: hash };
      });
      if (result) return { result, hash };
      if (attempt === PUBLISH_ATTEMPTS)
        throw new RpcError(grpc.status.ABORTED, `workflow ${shortened(def.name)} was published meanwhile ${attempt} times; retry`);
    }
  };
  return {
    registerWorkflowDef: rpc(async (req, call) => {
      const def = await parseDef(req.definitionJson);
      const { errors, warnings } = await check(def, call);
      if (errors.length > 0) throw invalid(`invalid workflow definition (${errors.length} error${errors.length > 1 ? "s" : ""}): ${describeIssues(errors)}`);
      const { result, hash } = await registerVersion(def, req.versionPolicy === VersionPolicy.NEXT_IF_CHANGED);
      // Here at once; other replicas on the NOTIFY sent at commit.
      if (result.changed) forget.workflowDef(def.name);
      // Runs waiting for a slot that the new limit admitted start before the answer.
      if (result.admitted > 0) await forget.runsAdmitted?.(result.admitted);
      return { name: def.name, version: result.version, changed: result.changed, contentHash: hash, warnings: issues(warnings) };
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
      const def = await parseDef(req.definitionJson);
      const { errors, warnings } = await check(def, call);
      return { valid: errors.length === 0, errors: issues(errors), warnings: issues(warnings) };
    }),

    registerTaskDefs: rpc(async (req) => {
      const defs: TaskDef[] = [];
      const problems: ValidationIssue[] = [];
      req.taskDefJson.forEach((text, i) => {
        const def = parsePayload(`task_def_json[${i}]`, text, limits.definitionBytes) as unknown as TaskDef;
        for (const e of validateTaskDef(def)) problems.push({ path: `task_def_json[${i}] ${e.path || "/"}`, message: e.message });
        defs.push(def);
      });
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
