// A workflow definition's identity: the hash of its canonical JSON, so equal
// definitions (whatever their key order) are stored and cached once. The
// server computes it in the queries pool (definition-check.ts, from the
// definition's text): at 4 MiB the key-sorted copy and its text took 100-250 ms each.
import { createHash } from "node:crypto";
import { stringifyJson } from "@baton/json";
import type { WorkflowDef } from "@baton/sdk";

export function definitionHash(def: WorkflowDef): string {
  return createHash("sha256").update(canonicalJson(def)).digest("hex");
}

/** Hash of what a definition does: its version and bookkeeping fields left out. */
export function contentHash(def: WorkflowDef): string {
  const { version: _v, createTime: _c, updateTime: _u, createdBy: _cb, updatedBy: _ub, ...rest } = def;
  return definitionHash(rest as WorkflowDef);
}

/** JSON with object keys sorted, so equal definitions hash equally. */
export function canonicalJson(value: unknown): string {
  return stringifyJson(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (!value || typeof value !== "object") return value;
  return Object.fromEntries(
    Object.entries(value as Record<string, unknown>)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([k, v]) => [k, sortKeys(v)]),
  );
}
