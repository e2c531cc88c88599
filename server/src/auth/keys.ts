// API keys: `bk_<id>_<secret>`. The id is public (it names the key in lists,
// logs and revocations); the secret is 256 random bits. Only the SHA-256 of the
// whole key is stored: a key this random needs no slow hash, and a leaked
// table gives nothing to replay. Keys are looked up by id and compared in
// constant time.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import pg from "pg";
import { migrate } from "../store/migrations.js";

export const ROLES = ["admin", "publisher", "operator", "worker", "reader"] as const;
export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** A key as stored (without its secret). `taskTypes` scopes worker keys; ["*"] means every type. */
export interface KeyRecord {
  id: string;
  name: string;
  role: Role;
  taskTypes: string[];
  createdAt: number;
  createdBy: string;
  /** 0 while the key is active. */
  revokedAt: number;
}

const ID_ALPHABET = "abcdefghijkmnpqrstuvwxyz23456789";
const KEY_PATTERN = /^bk_([a-z0-9]{12})_([A-Za-z0-9_-]{43})$/;
/** Task type names a scope may list: what task definitions use, or "*". */
const TASK_TYPE_PATTERN = /^(\*|[A-Za-z0-9_.:-]{1,255})$/;

function newId(): string {
  const bytes = randomBytes(12);
  let id = "";
  for (const b of bytes) id += ID_ALPHABET[b % ID_ALPHABET.length];
  return id;
}

export function hashKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

/** The id of a well-formed key, else undefined. Says nothing about validity. */
export function keyId(key: string): string | undefined {
  return KEY_PATTERN.exec(key)?.[1];
}

/** Whether `key` hashes to `storedHash`, in time independent of where they differ. */
export function matchesHash(key: string, storedHash: string): boolean {
  const presented = Buffer.from(hashKey(key), "hex");
  const stored = Buffer.from(storedHash, "hex");
  return presented.length === stored.length && timingSafeEqual(presented, stored);
}

export interface NewKey {
  role: Role;
  name?: string;
  taskTypes?: string[];
  createdBy?: string;
}

/** Checks a new key's fields; returns the normalized task types or throws with a message for the user. */
export function normalizeNewKey(input: { role: string; taskTypes?: string[] }): { role: Role; taskTypes: string[] } {
  if (!isRole(input.role)) throw new KeyError("INVALID_ARGUMENT", `unknown role "${input.role}"; one of ${ROLES.join(", ")}`);
  const taskTypes = [...new Set((input.taskTypes ?? []).map((t) => t.trim()).filter((t) => t !== ""))].sort();
  for (const t of taskTypes) {
    if (!TASK_TYPE_PATTERN.test(t)) throw new KeyError("INVALID_ARGUMENT", `"${t}" is not a task type name`);
  }
  if (input.role === "worker" && taskTypes.length === 0) {
    throw new KeyError("INVALID_ARGUMENT", 'a worker key needs its task types (e.g. --task-types encode,notify, or "*" for every type)');
  }
  if (input.role !== "worker" && taskTypes.length > 0) throw new KeyError("INVALID_ARGUMENT", "only worker keys take task types");
  if (taskTypes.includes("*") && taskTypes.length > 1) throw new KeyError("INVALID_ARGUMENT", '"*" already means every task type');
  return { role: input.role, taskTypes };
}

export class KeyError extends Error {
  constructor(
    readonly code: "INVALID_ARGUMENT" | "NOT_FOUND",
    message: string,
  ) {
    super(message);
    this.name = "KeyError";
  }
}

type Queryable = Pick<pg.Pool, "query">;

function rowToKey(r: Record<string, unknown>): KeyRecord {
  return {
    id: r["id"] as string,
    name: r["name"] as string,
    role: r["role"] as Role,
    taskTypes: r["task_types"] as string[],
    createdAt: Number(r["created_at"]),
    createdBy: r["created_by"] as string,
    revokedAt: Number(r["revoked_at"]),
  };
}

/** The keys table. Every write notifies `baton_keys` so replicas drop their cached copy at once. */
export class KeyRegistry {
  constructor(private readonly db: Queryable) {}

  /** Creates a key; the returned `key` is the only time its secret exists outside the caller. */
  async create(input: NewKey, now = Date.now()): Promise<{ key: string; record: KeyRecord }> {
    const { role, taskTypes } = normalizeNewKey(input);
    const id = newId();
    const key = `bk_${id}_${randomBytes(32).toString("base64url")}`;
    const { rows } = await this.db.query(
      `INSERT INTO baton.api_keys (id, name, role, task_types, secret_hash, created_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *`,
      [id, input.name ?? "", role, taskTypes, hashKey(key), now, input.createdBy ?? ""],
    );
    return { key, record: rowToKey(rows[0] as Record<string, unknown>) };
  }

  async list(options: { includeRevoked?: boolean } = {}): Promise<KeyRecord[]> {
    const { rows } = await this.db.query(
      `SELECT * FROM baton.api_keys ${options.includeRevoked ? "" : "WHERE revoked_at = 0"} ORDER BY created_at, id`,
    );
    return rows.map(rowToKey);
  }

  /** The record and stored hash of a key id (revoked or not), for authentication. */
  async find(id: string): Promise<{ record: KeyRecord; hash: string } | undefined> {
    const { rows } = await this.db.query("SELECT * FROM baton.api_keys WHERE id = $1", [id]);
    const row = rows[0] as Record<string, unknown> | undefined;
    return row ? { record: rowToKey(row), hash: row["secret_hash"] as string } : undefined;
  }

  /** Revokes a key; true when it was active. Unknown ids throw NOT_FOUND. */
  async revoke(id: string, now = Date.now()): Promise<boolean> {
    const { rows } = await this.db.query(
      `WITH target AS (SELECT id, revoked_at FROM baton.api_keys WHERE id = $1 FOR UPDATE),
       changed AS (UPDATE baton.api_keys k SET revoked_at = $2 FROM target WHERE k.id = target.id AND target.revoked_at = 0 RETURNING k.id),
       notified AS (SELECT pg_notify('baton_keys', $1) FROM changed)
       SELECT (SELECT count(*) FROM target) AS found, (SELECT count(*) FROM changed) AS changed, (SELECT count(*) FROM notified) AS n`,
      [id, now],
    );
    const row = rows[0] as { found: string | number; changed: string | number } | undefined;
    if (!row || Number(row.found) === 0) throw new KeyError("NOT_FOUND", `no API key ${id}`);
    return Number(row.changed) > 0;
  }

  /** Whether an active admin key exists (for bootstrapping). */
  async hasActiveAdmin(): Promise<boolean> {
    const { rows } = await this.db.query("SELECT 1 FROM baton.api_keys WHERE role = 'admin' AND revoked_at = 0 LIMIT 1");
    return rows.length > 0;
  }
}

/**
 * Opens the keys table of the database at `url` directly, applying
 * migrations first: how the first admin key is made, before any key exists.
 */
export async function openKeyRegistry(url: string): Promise<{ registry: KeyRegistry; close(): Promise<void> }> {
  const pool = new pg.Pool({ connectionString: url, max: 2, application_name: "baton-keys" });
  pool.on("error", () => {});
  try {
    const client = await pool.connect();
    try {
      await migrate(client);
    } finally {
      client.release();
    }
  } catch (error) {
    await pool.end().catch(() => {});
    throw error;
  }
  return { registry: new KeyRegistry(pool), close: () => pool.end() };
}
