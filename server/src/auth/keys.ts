// API keys: `bk_<id>_<secret>`. The id is public (it names the key in lists,
// logs and revocations); the secret is 256 random bits. Only the SHA-256 of the
// whole key is stored: a key this random needs no slow hash, and a leaked
// table gives nothing to replay. Keys are looked up by id and compared in
// constant time.
import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { openStore, type ApiKeyRow, type Store } from "../store/store.js";

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

function toRecord(r: ApiKeyRow): KeyRecord {
  return { id: r.id, name: r.name, role: r.role as Role, taskTypes: r.taskTypes, createdAt: r.createdAt, createdBy: r.createdBy, revokedAt: r.revokedAt };
}

/** The operations on stored keys a registry needs. */
export type KeyStore = Pick<Store, "insertApiKey" | "listApiKeys" | "findApiKey" | "revokeApiKey" | "hasActiveAdmin">;

/** API keys: made here, stored hashed. A revocation notifies every replica so they drop their cached copy at once. */
export class KeyRegistry {
  constructor(private readonly store: KeyStore) {}

  /** Creates a key; the returned `key` is the only time its secret exists outside the caller. */
  async create(input: NewKey, now = Date.now()): Promise<{ key: string; record: KeyRecord }> {
    const { role, taskTypes } = normalizeNewKey(input);
    const id = newId();
    const key = `bk_${id}_${randomBytes(32).toString("base64url")}`;
    const row = await this.store.insertApiKey({
      id,
      name: input.name ?? "",
      role,
      taskTypes,
      secretHash: hashKey(key),
      createdAt: now,
      createdBy: input.createdBy ?? "",
    });
    return { key, record: toRecord(row) };
  }

  async list(options: { includeRevoked?: boolean } = {}): Promise<KeyRecord[]> {
    return (await this.store.listApiKeys(options.includeRevoked ?? false)).map(toRecord);
  }

  /** The record and stored hash of a key id (revoked or not), for authentication. */
  async find(id: string): Promise<{ record: KeyRecord; hash: string } | undefined> {
    const row = await this.store.findApiKey(id);
    return row ? { record: toRecord(row), hash: row.secretHash } : undefined;
  }

  /** Revokes a key; true when it was active. Unknown ids throw NOT_FOUND. */
  async revoke(id: string, now = Date.now()): Promise<boolean> {
    const { found, revoked } = await this.store.revokeApiKey(id, now);
    if (!found) throw new KeyError("NOT_FOUND", `no API key ${id}`);
    return revoked;
  }

  /** Whether an active admin key exists (for bootstrapping). */
  async hasActiveAdmin(): Promise<boolean> {
    return this.store.hasActiveAdmin();
  }
}

/**
 * Opens the keys table of the database at `url` directly, applying
 * migrations first: how the first admin key is made, before any key exists.
 */
export async function openKeyRegistry(url: string): Promise<{ registry: KeyRegistry; close(): Promise<void> }> {
  const store = openStore(url, { poolSize: 3, applicationName: "baton-keys" });
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  return { registry: new KeyRegistry(store), close: () => store.close() };
}
