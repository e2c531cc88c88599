// What publishing would change: each definition against the server's latest,
// as "new", "unchanged" or a diff of the pretty JSON.
import type { BatonClient } from "@baton/client";
import { grpc } from "@baton/protocol";
import { grpcCode } from "../cli/exit.js";
import { alignKeys, canonicalJson, content } from "./canonical.js";
import { unifiedDiff } from "./diff.js";
import type { Loaded } from "./load.js";

export interface Planned {
  kind: "workflow" | "taskDef" | "eventHandler" | "schedule";
  name: string;
  source: string;
  status: "new" | "changed" | "unchanged";
  /** The server's latest version (workflows). */
  version?: number;
  diff?: string[];
}

async function orMissing<T>(fetch: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fetch();
  } catch (error) {
    if (grpcCode(error) === grpc.status.NOT_FOUND) return undefined;
    throw error;
  }
}

const pretty = (v: unknown) => JSON.stringify(v, null, 2);

function compare(kind: Planned["kind"], item: Loaded, server: Record<string, unknown> | undefined, label: string): Planned {
  const name = String(item.def["name"]);
  if (!server) return { kind, name, source: item.source, status: "new" };
  const local = content(item.def);
  const remote = content(server);
  if (canonicalJson(local) === canonicalJson(remote)) return { kind, name, source: item.source, status: "unchanged" };
  return {
    kind,
    name,
    source: item.source,
    status: "changed",
    diff: unifiedDiff(pretty(alignKeys(remote, local)), pretty(local), `${name} (server, ${label})`, `${name} (${item.source})`),
  };
}

export async function planWorkflow(client: BatonClient, item: Loaded): Promise<Planned> {
  const server = await orMissing(() => client.getWorkflowDef(String(item.def["name"])));
  const version = typeof server?.["version"] === "number" ? server["version"] : undefined;
  const planned = compare("workflow", item, server, version !== undefined ? `version ${version}` : "latest");
  return version !== undefined ? { ...planned, version } : planned;
}

export async function planTaskDef(client: BatonClient, item: Loaded): Promise<Planned> {
  const server = await orMissing(
    async () => JSON.parse((await client.metadata.getTaskDef({ name: String(item.def["name"]) })).taskDefJson) as Record<string, unknown>,
  );
  return compare("taskDef", item, server, "current");
}

export async function planEventHandler(client: BatonClient, item: Loaded): Promise<Planned> {
  const server = await orMissing(() => client.getEventHandler(String(item.def["name"])));
  return compare("eventHandler", item, server, "current");
}

export async function planSchedule(client: BatonClient, item: Loaded): Promise<Planned> {
  const server = await orMissing(async () => (await client.getSchedule(String(item.def["name"]))).schedule);
  return compare("schedule", item, server, "current");
}
