// MetadataService: definitions in, validated, versioned, content-addressed.
import { shortened } from "@baton/json";
import { grpc, MetadataService, RpcError, stringifyJson, type ServiceImpl, VersionPolicy } from "@baton/protocol";
import { describeIssues, taskNamesOf, validateTaskDef, validateWorkflowDef, type TaskDef, type ValidationIssue, type WorkflowDef } from "@baton/sdk";
import { createHash } from "node:crypto";
import type { Clock } from "../clock.js";
import { canonicalJson, definitionHash } from "../runtime/engine.js";
import type { Limits } from "../limits.js";
import { VersionRouted, type Store } from "../store/store.js";
import { definitionProblems } from "./definition-checks.js";
import type { Queries } from "../sandbox/queries.js";
import { invalid, notFound, parsePayload, rpc } from "./errors.js";

/** Hash of what a definition does: its version and bookkeeping fields left out. */
export function contentHash(def: WorkflowDef): string {
  const { version: _v, createTime: _c, updateTime: _u, createdBy: _cb, updatedBy: _ub, ...rest } = def;
  return createHash("sha256").update(canonicalJson(rest)).digest("hex");
}

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
    | "listWorkflowDefs"
    | "defByHash"
    | "putTaskDefs"
    | "deleteWorkflowVersion"
    | "deleteTaskDef"
  >;
  clock: Clock;
  limits: Limits;
  /** Where a definition's inputSchema is compiled. */
  queries: Pick<Queries, "schemaProblem" | "pathProblems" | "limits">;
  changed: { workflowDef(name: string): void; taskDefs(): void; runsAdmitted?(count: number): Promise<void> };
}

export function metadataService({ store, clock, limits, queries, changed: forget }: MetadataServiceDeps): ServiceImpl<typeof MetadataService> {
  /**
   * Which task definitions exist, of those a workflow definition names: only
   * those are looked up, so registering a flow costs the same with ten task
   * definitions stored as with a hundred thousand.
   */
  const hasTaskDef = async (def: unknown) => {
    const defs = await store.findTaskDefs(taskNamesOf(def));
    return (name: string) => defs.has(name);
  };
  const parseDef = (text: string): WorkflowDef => {
    if (Buffer.byteLength(text) > limits.definitionBytes) {
      throw invalid(`definition_json is ${Buffer.byteLength(text)} bytes; the limit is ${limits.definitionBytes} bytes`);
    }
    return parsePayload("definition_json", text, limits.definitionBytes) as unknown as WorkflowDef;
  };
  /** The SDK's checks, then the server's own (definition-checks.ts). */
  const check = async (def: WorkflowDef) => {
    const { errors, warnings } = validateWorkflowDef(def, { hasTaskDef: await hasTaskDef(def) });
    return { errors: errors.length > 0 ? errors : await definitionProblems(def, queries), warnings };
  };
  return {
    registerWorkflowDef: rpc(async (req) => {
      const def = parseDef(req.definitionJson);
      const { errors, warnings } = await check(def);
      if (errors.length > 0) throw invalid(`invalid workflow definition (${errors.length} error${errors.length > 1 ? "s" : ""}): ${describeIssues(errors)}`);
      // The content hash leaves the version out: the same whichever version is written.
      const hash = contentHash(def);
      const nextIfChanged = req.versionPolicy === VersionPolicy.NEXT_IF_CHANGED;
      const result = await store.registerWorkflowVersion(def.name, clock.now(), (latest) => {
        if (nextIfChanged && latest && contentHash(latest.def) === hash) return { unchanged: latest.version };
        const version = nextIfChanged && latest ? latest.version + 1 : (def.version ?? 1);
        const stored: WorkflowDef = { ...def, version };
        return { def: stored, version, hash: definitionHash(stored) };
      });
      // Here at once; other replicas on the NOTIFY sent at commit.
      if (result.changed) forget.workflowDef(def.name);
      // Runs waiting for a slot that the new limit admitted start before the answer.
      if (result.admitted > 0) await forget.runsAdmitted?.(result.admitted);
      return { name: def.name, version: result.version, changed: result.changed, contentHash: hash, warnings: issues(warnings) };
    }),

    getWorkflowDef: rpc(async (req) => {
      const found = await store.findWorkflowDef(req.name, req.version);
      if (!found) throw notFound(`no workflow definition ${shortened(req.name)}${req.version !== undefined ? ` version ${req.version}` : ""}`);
      return { definitionJson: stringifyJson(found.def), contentHash: contentHash(found.def) };
    }),

    listWorkflowDefs: rpc(async (req) => {
      const rows = await store.listWorkflowDefs(req.name, req.allVersions);
      const out = [];
      for (const row of rows) {
        const def = await store.defByHash(row.hash);
        out.push({
          name: row.name,
          version: row.version,
          contentHash: def ? contentHash(def) : row.hash,
          createTimeMs: BigInt(row.createdAt),
          description: row.description,
        });
      }
      return { definitions: out };
    }),

    validateWorkflowDef: rpc(async (req) => {
      const def = parseDef(req.definitionJson);
      const { errors, warnings } = await check(def);
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

    listTaskDefs: rpc(async () => {
      const defs = await store.findTaskDefs();
      return { taskDefJson: [...defs.values()].map((d) => stringifyJson(d)) };
    }),
  };
}
