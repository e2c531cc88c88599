// The API keys table (auth/keys.ts makes and checks keys; this stores them).
// A creation or revocation notifies every replica so they drop what they
// remembered of that key id at once (an unknown id, or an active key).
import type { Queryable } from "./db.js";
import { notifySql } from "./notifications.js";

/** A key's row: its record and the SHA-256 of the whole key. */
export interface ApiKeyRow {
  id: string;
  name: string;
  role: string;
  taskTypes: string[];
  createdAt: number;
  createdBy: string;
  /** 0 while the key is active. */
  revokedAt: number;
  secretHash: string;
}

function fromRow(r: Record<string, unknown>): ApiKeyRow {
  return {
    id: r["id"] as string,
    name: r["name"] as string,
    role: r["role"] as string,
    taskTypes: r["task_types"] as string[],
    createdAt: Number(r["created_at"]),
    createdBy: r["created_by"] as string,
    revokedAt: Number(r["revoked_at"]),
    secretHash: r["secret_hash"] as string,
  };
}

export async function insertApiKey(q: Queryable, key: Omit<ApiKeyRow, "revokedAt">): Promise<ApiKeyRow> {
  // The table's trigger notifies (migration "a new API key notifies"), whoever inserts.
  const { rows } = await q.query(
    `INSERT INTO baton.api_keys (id, name, role, task_types, secret_hash, created_at, created_by)
     VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
    [key.id, key.name, key.role, key.taskTypes, key.secretHash, key.createdAt, key.createdBy],
  );
  return fromRow(rows[0] as Record<string, unknown>);
}

export async function listApiKeys(q: Queryable, includeRevoked: boolean): Promise<ApiKeyRow[]> {
  const { rows } = await q.query(`SELECT * FROM baton.api_keys ${includeRevoked ? "" : "WHERE revoked_at = 0"} ORDER BY created_at, id`);
  return rows.map(fromRow);
}

export async function findApiKey(q: Queryable, id: string): Promise<ApiKeyRow | undefined> {
  const { rows } = await q.query("SELECT * FROM baton.api_keys WHERE id = $1", [id]);
  return rows[0] ? fromRow(rows[0] as Record<string, unknown>) : undefined;
}

/** Revokes a key: `found` false when there is no such key, `revoked` false when it was revoked already. */
export async function revokeApiKey(q: Queryable, id: string, now: number): Promise<{ found: boolean; revoked: boolean }> {
  const { rows } = await q.query(
    `WITH target AS (SELECT id, revoked_at FROM baton.api_keys WHERE id = $1 FOR UPDATE),
     changed AS (UPDATE baton.api_keys k SET revoked_at = $2 FROM target WHERE k.id = target.id AND target.revoked_at = 0 RETURNING k.id),
     notified AS (${notifySql("keyChanged", "$1")} FROM changed)
     SELECT (SELECT count(*) FROM target) AS found, (SELECT count(*) FROM changed) AS changed, (SELECT count(*) FROM notified) AS n`,
    [id, now],
  );
  const row = rows[0] as { found: string | number; changed: string | number } | undefined;
  return { found: Number(row?.found ?? 0) > 0, revoked: Number(row?.changed ?? 0) > 0 };
}

/** Whether an active admin key exists (for bootstrapping). */
export async function hasActiveAdmin(q: Queryable): Promise<boolean> {
  const { rows } = await q.query("SELECT 1 FROM baton.api_keys WHERE role = 'admin' AND revoked_at = 0 LIMIT 1");
  return rows.length > 0;
}
