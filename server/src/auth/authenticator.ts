// Turns a request's `authorization: Bearer <key>` into a principal. Keys are
// read from the database by id and kept for at most `cacheMs` (1 s by
// default), so a revocation made anywhere takes effect on every replica within
// that bound; a `baton_keys` notification drops the cached copy sooner.
// An id found absent is remembered until a key with that id is created (its
// creation sends the same notification), in a bounded set: a caller repeating
// unknown ids costs one query per id, not one per call. Database errors are
// logged, never shown to the caller, who may not even hold a key.
import { grpc, RpcError } from "@baton/protocol";
import type { Logger } from "../logger.js";
import { keyId, matchesHash, type KeyRecord, type KeyRegistry } from "./keys.js";
import { principalOf, type Principal } from "./policy.js";

interface Entry {
  found: { record: KeyRecord; hash: string } | undefined;
  at: number;
}

export interface AuthenticatorOptions {
  /** How long a key read from the database is trusted (ms). */
  cacheMs?: number;
  /** Keys, and separately unknown ids, remembered at most (oldest go first). */
  maxEntries?: number;
  now?: () => number;
  log?: Logger;
}

/** What a caller is told when the keys cannot be read: nothing about the database. */
export const KEYS_UNAVAILABLE = "cannot check the API key now; try again shortly";

/** Why a request was refused before reaching its handler (for logs and metrics; never the key). */
export type AuthFailure = "missing" | "malformed" | "unknown" | "revoked";

export class AuthError extends RpcError {
  constructor(
    readonly reason: AuthFailure,
    message: string,
    readonly keyId?: string,
  ) {
    super(grpc.status.UNAUTHENTICATED, message);
  }
}

export class Authenticator {
  private readonly cache = new Map<string, Entry>();
  /** Ids the database had no key for, oldest first; dropped when a key with the id is created. */
  private readonly unknown = new Set<string>();
  private readonly loading = new Map<string, Promise<Entry>>();
  /** Bumped by invalidate(): a lookup that started before it must not refill the cache. */
  private generation = 0;
  private readonly cacheMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;
  private readonly log: Logger | undefined;

  constructor(
    private readonly registry: KeyRegistry,
    options: AuthenticatorOptions = {},
  ) {
    this.cacheMs = options.cacheMs ?? 1000;
    this.maxEntries = options.maxEntries ?? 10_000;
    this.now = options.now ?? (() => performance.now());
    this.log = options.log;
  }

  /** The principal for a request's metadata; throws AuthError (UNAUTHENTICATED) or UNAVAILABLE. */
  async authenticate(metadata: grpc.Metadata): Promise<Principal> {
    const values = metadata.get("authorization");
    if (values.length === 0) throw new AuthError("missing", "no API key: send `authorization: Bearer <key>`");
    const header = values.length === 1 && typeof values[0] === "string" ? values[0] : "";
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    const key = match?.[1] ?? "";
    const id = keyId(key);
    if (!id) throw new AuthError("malformed", "the authorization header is not `Bearer bk_<id>_<secret>`");
    const entry = await this.lookup(id);
    // Hash compared even for unknown ids would not hide more: the id is not secret.
    if (!entry.found || !matchesHash(key, entry.found.hash)) throw new AuthError("unknown", "unknown API key", id);
    if (entry.found.record.revokedAt !== 0) throw new AuthError("revoked", `API key ${id} has been revoked`, id);
    return principalOf(entry.found.record);
  }

  /**
   * The refusal a request with key `id` would get once the key is read afresh
   * (revoked or deleted), or undefined while it is active: for calls admitted
   * earlier under that key. Rejects when the database cannot answer.
   */
  async refusalFor(id: string): Promise<AuthError | undefined> {
    this.invalidate(id);
    const entry = await this.lookup(id);
    if (!entry.found) return new AuthError("unknown", "unknown API key", id);
    if (entry.found.record.revokedAt !== 0) return new AuthError("revoked", `API key ${id} has been revoked`, id);
    return undefined;
  }

  /** Forgets what was read of a key id so the next request reads it again (after a creation or revocation). */
  invalidate(id?: string): void {
    this.generation++;
    if (id === undefined) {
      this.cache.clear();
      this.unknown.clear();
      this.loading.clear();
    } else {
      this.cache.delete(id);
      this.unknown.delete(id);
      this.loading.delete(id);
    }
  }

  private async lookup(id: string): Promise<Entry> {
    if (this.unknown.has(id)) return { found: undefined, at: this.now() };
    const cached = this.cache.get(id);
    if (cached && this.now() - cached.at < this.cacheMs) return cached;
    let pending = this.loading.get(id);
    if (!pending) {
      const generation = this.generation;
      const at = this.now();
      pending = this.registry
        .find(id)
        .then(
          (found) => {
            const entry = { found, at };
            if (generation === this.generation) this.remember(id, entry);
            return entry;
          },
          (error: unknown) => {
            this.log?.error({ err: error, keyId: id }, "cannot read API keys from the database");
            throw new RpcError(grpc.status.UNAVAILABLE, KEYS_UNAVAILABLE);
          },
        )
        .finally(() => {
          if (this.loading.get(id) === pending) this.loading.delete(id);
        });
      this.loading.set(id, pending);
    }
    return pending;
  }

  private remember(id: string, entry: Entry): void {
    if (!entry.found) {
      this.cache.delete(id);
      this.unknown.add(id);
      // Oldest first (insertion order): unknown ids sprayed at the server cannot grow it without bound.
      while (this.unknown.size > this.maxEntries) {
        const oldest = this.unknown.values().next().value;
        if (oldest === undefined) break;
        this.unknown.delete(oldest);
      }
      return;
    }
    this.cache.delete(id);
    this.cache.set(id, entry);
    while (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next().value;
      if (oldest === undefined) break;
      this.cache.delete(oldest);
    }
  }
}
