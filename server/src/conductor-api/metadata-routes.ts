// /api/metadata: workflow and task definitions, registered through the same
// metadata service (and its validation) as `baton publish`.
import { quoted, shortened } from "@baton/json";
import { create } from "@bufbuild/protobuf";
import {
  DeleteTaskDefRequestSchema,
  DeleteWorkflowDefRequestSchema,
  GetTaskDefRequestSchema,
  GetWorkflowDefRequestSchema,
  ListTaskDefsRequestSchema,
  ListWorkflowDefsRequestSchema,
  RegisterTaskDefsRequestSchema,
  RegisterWorkflowDefRequestSchema,
  grpc,
  parseJson,
  RpcError,
} from "@baton/protocol";
import { LIST_PAGE_MAX } from "../service/list-pages.js";
import { wholeList } from "./whole-lists.js";
import type { Principal } from "../auth/policy.js";
import { badRequest, HttpError } from "./errors.js";
import type { Route } from "./http.js";
import type { DefinitionView } from "./body-views.js";
import { boolParam, callOf, intParam, type Services } from "./services.js";

const META = "baton.v1.MetadataService";

export function metadataRoutes(s: Services): Route[] {
  const getDef = async (name: string, version: number | undefined, signal: AbortSignal) => {
    try {
      const found = await s.metadata.getWorkflowDef(create(GetWorkflowDefRequestSchema, { name, ...(version ? { version } : {}) }), callOf(signal));
      return parseJson(found.definitionJson) as Record<string, unknown>;
    } catch (error) {
      if (error instanceof RpcError && error.code === grpc.status.NOT_FOUND) return undefined;
      throw error;
    }
  };

  // Conductor answers its lists whole: they are read page by page, each
  // version's definition with its summary (withDefinitionJson) rather than once more each.
  const listDefs = (withDefinitionJson: boolean, signal: AbortSignal) =>
    wholeList(
      "workflow definitions",
      async (pageToken) => {
        const page = await s.metadata.listWorkflowDefs(
          create(ListWorkflowDefsRequestSchema, { allVersions: true, withDefinitionJson, pageSize: LIST_PAGE_MAX, pageToken }),
          callOf(signal),
        );
        return { items: page.definitions, nextPageToken: page.nextPageToken };
      },
      (d) => d.definitionJson.length + d.name.length + d.description.length,
      "gRPC ListWorkflowDefs with page_token, or `baton defs`",
    );

  // As the caller's key: its publishes' path checks draw on that key's budget.
  const register = (definitionJson: string, signal: AbortSignal, principal: Principal) =>
    s.metadata.registerWorkflowDef(create(RegisterWorkflowDefRequestSchema, { definitionJson }), callOf(signal, principal));

  /** Task definitions as the body was read into (body-views.ts): each one's JSON text. */
  const registerTaskDefs = (body: unknown, signal: AbortSignal) =>
    s.metadata.registerTaskDefs(create(RegisterTaskDefsRequestSchema, { taskDefJson: (body as { texts: string[] }).texts }), callOf(signal));

  return [
    {
      method: "POST",
      path: "/api/metadata/workflow",
      rights: `${META}/RegisterWorkflowDef`,
      view: "definition",
      handle: async (r) => {
        const def = r.body as DefinitionView;
        // Conductor refuses to create a version that exists, unless asked to overwrite it.
        if (!boolParam(r.query, "overwrite", false) && (await getDef(def.name, def.version ?? 1, r.signal))) {
          throw new HttpError(409, `Workflow with ${shortened(def.name)}.${def.version ?? 1} already exists!`);
        }
        await register(def.text ?? r.text, r.signal, r.principal);
        return undefined;
      },
    },
    {
      method: "PUT",
      path: "/api/metadata/workflow",
      rights: `${META}/RegisterWorkflowDef`,
      view: "definitions",
      handle: async (r) => {
        for (const def of r.body as DefinitionView[]) await register(def.text!, r.signal, r.principal);
        return undefined;
      },
    },
    {
      method: "GET",
      path: "/api/metadata/workflow",
      rights: `${META}/ListWorkflowDefs`,
      handle: async (r) => {
        const definitions = await listDefs(true, r.signal);
        return { json: definitions.map((d) => parseJson(d.definitionJson)) };
      },
    },
    {
      method: "GET",
      path: "/api/metadata/workflow/names-and-versions",
      rights: `${META}/ListWorkflowDefs`,
      handle: async (r) => {
        const definitions = await listDefs(false, r.signal);
        const out: Record<string, { name: string; version: number; createTime: number }[]> = {};
        // Conductor lists each name's versions in ascending order.
        for (const d of [...definitions].sort((a, b) => a.version - b.version))
          (out[d.name] ??= []).push({ name: d.name, version: d.version, createTime: Number(d.createTimeMs) });
        return { json: out };
      },
    },
    {
      method: "GET",
      path: "/api/metadata/workflow/:name",
      rights: `${META}/GetWorkflowDef`,
      handle: async (r) => {
        const version = intParam(r.query, "version", 0);
        const found = await s.metadata.getWorkflowDef(
          create(GetWorkflowDefRequestSchema, { name: r.params["name"] ?? "", ...(version ? { version } : {}) }),
          callOf(r.signal),
        );
        return { json: parseJson(found.definitionJson) };
      },
    },
    {
      // Conductor's semantics: allowed while runs use the version; they go on with what they pinned.
      method: "DELETE",
      path: "/api/metadata/workflow/:name/:version",
      rights: `${META}/DeleteWorkflowDef`,
      handle: async (r) => {
        const text = r.params["version"] ?? "";
        const version = /^[0-9]{1,9}$/.test(text) ? Number(text) : 0;
        if (version < 1) throw badRequest(`version must be a whole number of 1 or more, not ${quoted(text)}`);
        await s.metadata.deleteWorkflowDef(create(DeleteWorkflowDefRequestSchema, { name: r.params["name"] ?? "", version }), callOf(r.signal));
        return undefined;
      },
    },
    {
      method: "POST",
      path: "/api/metadata/taskdefs",
      rights: `${META}/RegisterTaskDefs`,
      view: "taskDefs",
      handle: async (r) => {
        await registerTaskDefs(r.body, r.signal);
        return undefined;
      },
    },
    {
      method: "PUT",
      path: "/api/metadata/taskdefs",
      rights: `${META}/RegisterTaskDefs`,
      view: "taskDef",
      handle: async (r) => {
        await registerTaskDefs(r.body, r.signal);
        return undefined;
      },
    },
    {
      method: "GET",
      path: "/api/metadata/taskdefs",
      rights: `${META}/ListTaskDefs`,
      handle: async (r) => {
        const taskDefJson = await wholeList(
          "task definitions",
          async (pageToken) => {
            const page = await s.metadata.listTaskDefs(create(ListTaskDefsRequestSchema, { pageSize: LIST_PAGE_MAX, pageToken }), callOf(r.signal));
            return { items: page.taskDefJson, nextPageToken: page.nextPageToken };
          },
          (t) => t.length,
          "gRPC ListTaskDefs with page_token",
        );
        return { json: taskDefJson.map((t) => parseJson(t)) };
      },
    },
    {
      method: "GET",
      path: "/api/metadata/taskdefs/:tasktype",
      rights: `${META}/GetTaskDef`,
      handle: async (r) => {
        const { taskDefJson } = await s.metadata.getTaskDef(create(GetTaskDefRequestSchema, { name: r.params["tasktype"] ?? "" }), callOf(r.signal));
        return { json: parseJson(taskDefJson) };
      },
    },
    {
      method: "DELETE",
      path: "/api/metadata/taskdefs/:tasktype",
      rights: `${META}/DeleteTaskDef`,
      handle: async (r) => {
        await s.metadata.deleteTaskDef(create(DeleteTaskDefRequestSchema, { name: r.params["tasktype"] ?? "" }), callOf(r.signal));
        return undefined;
      },
    },
  ];
}
