// Workflow definitions (content-addressed bodies; names and versions point at
// hashes) and task definitions. A change notifies every replica at commit so
// they drop what they cached.
import { stringifyJson } from "@baton/json";
import type { TaskDef, WorkflowDef } from "@baton/sdk";
import type pg from "pg";
import { transaction, type Queryable } from "./db.js";
import { measuredRows, type Measured } from "./measured-rows.js";
import { setLimit } from "./concurrency.js";
import { notifySql } from "./notifications.js";
import { contentHash } from "../runtime/definition-hash.js";
import { payloadText } from "../payload-text.js";

export interface StoredWorkflowDef {
  def: WorkflowDef;
  hash: string;
  version: number;
  createdAt: number;
  /** The content hash stored with the body; undefined for a body stored before it was (see defSummaries). */
  contentHash?: string;
}

export interface WorkflowDefListing {
  name: string;
  version: number;
  hash: string;
  createdAt: number;
  /** What the definition does (contentHash) and its description, stored with it; undefined for a body stored before they were (see defSummaries). */
  summary?: DefSummary;
}

/** What a list shows of a stored definition without reading it. */
export interface DefSummary {
  contentHash: string;
  description: string;
}

/** A list needs these without the body: kept beside it when it is stored (bodies stored before stay NULL until a list fills them in). */
export const DEF_SUMMARY_MIGRATION = {
  name: "definitions keep their content hash and description beside their body; versions are listed newest first by name from an index",
  sql: `ALTER TABLE baton.defs ADD COLUMN content_hash text, ADD COLUMN description text;
        CREATE INDEX workflow_defs_listing ON baton.workflow_defs (name, version DESC);`,
};

export function defSummary(def: WorkflowDef): DefSummary {
  return { contentHash: contentHash(def), description: typeof def.description === "string" ? def.description : "" };
}

/** A definition's body as stored: its JSON text, with its content hash and description beside it. */
export interface DefBody {
  text: string;
  contentHash: string;
  description: string;
}

/**
 * Stores a body under its hash, as the text it came in when known (not
 * written out again); `content`, its content hash when known (computed here
 * otherwise).
 */
export async function putDef(q: Queryable, hash: string, def: WorkflowDef, content = contentHash(def)): Promise<void> {
  const description = typeof def.description === "string" ? def.description : "";
  await putBody(q, hash, { text: payloadText(def) ?? stringifyJson(def), contentHash: content, description });
}

async function putBody(q: Queryable, hash: string, body: DefBody): Promise<void> {
  await q.query("INSERT INTO baton.defs (hash, body, content_hash, description) VALUES ($1, $2, $3, $4) ON CONFLICT (hash) DO NOTHING", [
    hash,
    body.text,
    body.contentHash,
    body.description,
  ]);
}

/** Stored definitions by hash (those that exist). */
export async function defsByHash(q: Queryable, hashes: string[]): Promise<Map<string, WorkflowDef>> {
  const { rows } = await q.query("SELECT hash, body FROM baton.defs WHERE hash = ANY($1)", [hashes]);
  return new Map(rows.map((r) => [r.hash as string, r.body as WorkflowDef]));
}

/** Fills in the summaries of bodies stored before they were kept (each computed once, then read by every list). */
export async function putDefSummaries(q: Queryable, summaries: Map<string, DefSummary>): Promise<void> {
  if (summaries.size === 0) return;
  const hashes = [...summaries.keys()];
  await q.query(
    `UPDATE baton.defs d SET content_hash = s.content_hash, description = s.description
     FROM unnest($1::text[], $2::text[], $3::text[]) AS s(hash, content_hash, description) WHERE d.hash = s.hash AND d.content_hash IS NULL`,
    [hashes, hashes.map((h) => summaries.get(h)!.contentHash), hashes.map((h) => summaries.get(h)!.description)],
  );
}

export async function defByHash(q: Queryable, hash: string): Promise<WorkflowDef | undefined> {
  const { rows } = await q.query("SELECT body FROM baton.defs WHERE hash = $1", [hash]);
  return rows[0]?.body as WorkflowDef | undefined;
}

/** A version of a workflow, or its latest when `version` is undefined. */
export async function workflowDef(q: Queryable, name: string, version?: number): Promise<StoredWorkflowDef | undefined> {
  const { rows } = await q.query({
    name: version === undefined ? "baton-workflow-def-latest" : "baton-workflow-def",
    text: `SELECT w.version, w.hash, w.created_at, d.body, d.content_hash FROM baton.workflow_defs w JOIN baton.defs d ON d.hash = w.hash
     WHERE w.name = $1 ${version === undefined ? "" : "AND w.version = $2"} ORDER BY w.version DESC LIMIT 1`,
    values: version === undefined ? [name] : [name, version],
  });
  const row = rows[0];
  if (!row) return undefined;
  const found: StoredWorkflowDef = {
    def: row.body as WorkflowDef,
    hash: row.hash as string,
    version: row.version as number,
    createdAt: row.created_at as number,
  };
  if (row.content_hash !== null) found.contentHash = row.content_hash as string;
  return found;
}

/** Points name/version at `hash`; returns whether anything changed. */
export async function putWorkflowVersion(q: pg.ClientBase, name: string, version: number, hash: string, now: number): Promise<boolean> {
  const { rowCount } = await q.query(
    `INSERT INTO baton.workflow_defs (name, version, hash, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (name, version) DO UPDATE SET hash = excluded.hash WHERE baton.workflow_defs.hash <> excluded.hash`,
    [name, version, hash, now],
  );
  const changed = (rowCount ?? 0) > 0;
  // Every replica forgets its cached latest version of the name (at commit).
  if (changed) await q.query(notifySql("workflowDefsChanged", "$1"), [name]);
  return changed;
}

/** The latest version of a name, without its body: the body only for one stored before its content hash was (def). */
export interface LatestVersion {
  version: number;
  contentHash?: string;
  def?: WorkflowDef;
}

/** The latest version of a workflow (see LatestVersion); undefined for a new name. */
export async function latestVersion(q: Queryable, name: string): Promise<LatestVersion | undefined> {
  const { rows } = await q.query({
    name: "baton-workflow-latest-version",
    text: `SELECT w.version, d.content_hash, CASE WHEN d.content_hash IS NULL THEN d.body END AS body
     FROM baton.workflow_defs w JOIN baton.defs d ON d.hash = w.hash WHERE w.name = $1 ORDER BY w.version DESC LIMIT 1`,
    values: [name],
  });
  const row = rows[0];
  if (!row) return undefined;
  return row.content_hash !== null
    ? { version: row.version as number, contentHash: row.content_hash as string }
    : { version: row.version as number, def: row.body as WorkflowDef };
}

/**
 * What to register, given the latest stored version (undefined: the name is
 * new): `unchanged` to write nothing; `retry` when the latest moved since the
 * caller hashed for it (another registration of the name in between).
 */
export type VersionChoice = { unchanged: number } | { retry: true } | { body: DefBody; runLimit: number | undefined; version: number; hash: string };

/**
 * Registers a version of a workflow: under a lock on its name (two
 * registrations of one name do not pick the same next version), reads the
 * latest version, lets `choose` say what to write, and writes it; undefined
 * when `choose` asks to be retried.
 */
export async function registerWorkflowVersion(
  pool: pg.Pool,
  name: string,
  now: number,
  choose: (latest: LatestVersion | undefined) => VersionChoice,
): Promise<{ version: number; changed: boolean; admitted: number } | undefined> {
  return transaction(pool, async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`workflow:${name}`]);
    const latest = await latestVersion(tx, name);
    const choice = choose(latest);
    if ("retry" in choice) return undefined;
    if ("unchanged" in choice) return { version: choice.unchanged, changed: false, admitted: 0 };
    await putBody(tx, choice.hash, choice.body);
    const changed = await putWorkflowVersion(tx, name, choice.version, choice.hash, now);
    // The newest version's limit of running runs per key holds for runs already waiting too.
    const admitted = changed && choice.version >= (latest?.version ?? 0) ? await setLimit(tx, name, choice.runLimit) : 0;
    return { version: choice.version, changed, admitted };
  });
}

/** Where a page of a name-ordered list starts and how many it reads. */
export interface KeysetPage<K> {
  /** The sort key of the item the page starts after; undefined for the first page. */
  after?: K;
  limit: number;
}

/**
 * Workflow versions by name, then version from the newest (only the newest of
 * each name unless `allVersions`), a page at a time; bodies are not read.
 */
export async function listWorkflowDefs(
  q: Queryable,
  name: string,
  allVersions: boolean,
  page: KeysetPage<[string] | [string, number]>,
): Promise<WorkflowDefListing[]> {
  // Names are never empty: the first page starts after ("", 0).
  const [afterName, afterVersion] = page.after ?? ["", 0];
  const { rows } = allVersions
    ? // The older versions of the last page's name, then the names after it: each a range of workflow_defs_listing.
      await q.query(
        `SELECT w.name, w.version, w.hash, w.created_at, d.content_hash, d.description FROM (
           (SELECT * FROM baton.workflow_defs WHERE name = $2 AND version < $3 AND ($1 = '' OR name = $1) ORDER BY version DESC LIMIT $4)
           UNION ALL
           (SELECT * FROM baton.workflow_defs WHERE name > $2 AND ($1 = '' OR name = $1) ORDER BY name, version DESC LIMIT $4)
         ) w JOIN baton.defs d ON d.hash = w.hash ORDER BY w.name, w.version DESC LIMIT $4`,
        [name, afterName, afterVersion, page.limit],
      )
    : // The page's names first, then each one's newest version from the primary key.
      await q.query(
        `SELECT w.name, w.version, w.hash, w.created_at, d.content_hash, d.description
         FROM (SELECT DISTINCT name FROM baton.workflow_defs WHERE ($1 = '' OR name = $1) AND name > $2 ORDER BY name LIMIT $3) n
         CROSS JOIN LATERAL (SELECT * FROM baton.workflow_defs v WHERE v.name = n.name ORDER BY v.version DESC LIMIT 1) w
         JOIN baton.defs d ON d.hash = w.hash ORDER BY w.name`,
        [name, afterName, page.limit],
      );
  return rows.map((r) => ({
    name: r.name,
    version: r.version,
    hash: r.hash,
    createdAt: r.created_at,
    ...(r.content_hash === null ? {} : { summary: { contentHash: r.content_hash, description: r.description ?? "" } }),
  }));
}

/** The registered versions of a workflow name, in order. */
export async function workflowVersions(q: Queryable, name: string): Promise<number[]> {
  const { rows } = await q.query<{ version: number }>("SELECT version FROM baton.workflow_defs WHERE name = $1 ORDER BY version", [name]);
  return rows.map((r) => r.version);
}

/** Creates or replaces task definitions; returns the names whose body changed. */
export async function putTaskDefs(pool: pg.Pool, defs: TaskDef[], now: number): Promise<string[]> {
  return transaction(pool, async (tx) => {
    const changed: string[] = [];
    for (const def of defs) {
      const { rowCount } = await tx.query(
        `INSERT INTO baton.task_defs (name, body, updated_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO UPDATE SET body = excluded.body, updated_at = excluded.updated_at WHERE baton.task_defs.body <> excluded.body`,
        [def.name, payloadText(def) ?? stringifyJson(def), now],
      );
      if ((rowCount ?? 0) > 0) changed.push(def.name);
    }
    if (changed.length > 0) await tx.query(notifySql("taskDefsChanged"));
    return changed;
  });
}

/** Task definitions by name. */
export async function taskDefs(q: Queryable, names: string[]): Promise<Map<string, TaskDef>> {
  const { rows } = await q.query("SELECT body FROM baton.task_defs WHERE name = ANY($1)", [names]);
  return new Map(rows.map((r) => [(r.body as TaskDef).name, r.body as TaskDef]));
}

/** A page of task definitions by name, those that start within `room` bytes (measured-rows.ts). */
export async function listTaskDefs(q: Queryable, page: KeysetPage<[string]>, room: number): Promise<Measured<TaskDef>> {
  const sql = "SELECT name, body FROM baton.task_defs WHERE $1::text IS NULL OR name > $1 ORDER BY name LIMIT $2";
  return measuredRows(
    q,
    { sql, params: [page.after?.[0] ?? null, page.limit], bytes: "octet_length(p.body::text)", orderBy: "name" },
    room,
    (r) => r["body"] as TaskDef,
  );
}

/** Why a workflow version may not be removed: its route still sends starts to it. */
export class VersionRouted extends Error {}

/**
 * Removes one version of a workflow (runs keep the body they pinned by hash;
 * the body stays). Under the name's lock, so a registration choosing the next
 * version sees the removal. Refused while the name's route uses the version.
 * Returns the latest version left (0: none), or undefined when there was no such version.
 */
export async function deleteWorkflowVersion(pool: pg.Pool, name: string, version: number): Promise<{ latest: number } | undefined> {
  return transaction(pool, async (tx) => {
    await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`workflow:${name}`]);
    const { rows: routed } = await tx.query(
      `SELECT 1 FROM baton.routes r WHERE r.name = $1 AND (r.stable_version = $2
         OR EXISTS (SELECT 1 FROM jsonb_array_elements(r.weights) w WHERE (w->>'version')::int = $2 AND (w->>'weight')::numeric > 0))`,
      [name, version],
    );
    if (routed.length > 0) throw new VersionRouted(`version ${version} of ${name} is in its route; route its starts to another version first (baton route)`);
    const { rowCount } = await tx.query("DELETE FROM baton.workflow_defs WHERE name = $1 AND version = $2", [name, version]);
    if ((rowCount ?? 0) === 0) return undefined;
    await tx.query(notifySql("workflowDefsChanged", "$1"), [name]);
    const { rows } = await tx.query("SELECT coalesce(max(version), 0) AS latest FROM baton.workflow_defs WHERE name = $1", [name]);
    return { latest: Number(rows[0]?.latest ?? 0) };
  });
}

/** Removes a task definition; false when there was none. Notifies at commit. */
export async function deleteTaskDef(pool: pg.Pool, name: string): Promise<boolean> {
  return transaction(pool, async (tx) => {
    const { rowCount } = await tx.query("DELETE FROM baton.task_defs WHERE name = $1", [name]);
    if ((rowCount ?? 0) === 0) return false;
    await tx.query(notifySql("taskDefsChanged"));
    return true;
  });
}
