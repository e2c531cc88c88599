// Searches and counts of runs cost however many rows a caller's filter
// touches: a version filter over a million runs of one name read them all
// (2.3 s a count); so do a page of queue sizes, which counts every task
// queued of its types (a million of one type: 1.8 s), and a purge's dry run,
// which counts every ended run before its time and their tasks. They run on connections of their own (the store's
// search pool, where PostgreSQL stops a statement past a time limit), taken
// in turn by the keys that ask: a key runs at most half of them at once, and
// keys waiting are served round robin. Before, a reader's twenty
// concurrent counts held every connection that timers, the outbox, replica
// heartbeats and key lookups use: other callers' reads failed after 30 s.
import { grpc, RpcError } from "@baton/protocol";
import { KeyShares } from "../fairness/key-shares.js";

/** How a search of runs asks for fewer. */
const RUNS_NARROWER = "a workflow name with a time range, a status, a correlation id";

/** How many searches one key may have waiting for a connection; past it the next is refused. */
export const SEARCHES_WAITING_PER_KEY = 64;

interface Waiter {
  admit: () => void;
  refuse: (error: unknown) => void;
}

export class SearchLane {
  /** The connections, and each key's share of them. */
  private readonly shares: KeyShares;
  /** Waiting searches by key; a key served moves to the end (round robin). */
  private readonly waiting = new Map<string, Waiter[]>();

  constructor(
    connections: number,
    /** The statement limit, in seconds, for the error that names it. */
    private readonly limitSeconds: number,
  ) {
    this.shares = new KeyShares(connections);
  }

  /**
   * Runs `search` for `key` when its turn comes; `signal`: the caller went away while it waited; `narrow`: how the caller
   * asks for less when it is stopped.
   */
  async run<T>(key: string, search: () => Promise<T>, signal?: AbortSignal, narrow = RUNS_NARROWER): Promise<T> {
    await this.enter(key, signal);
    try {
      return await search();
    } catch (error) {
      // 57014: query_canceled, here by statement_timeout.
      if ((error as { code?: unknown }).code === "57014")
        throw new RpcError(
          grpc.status.RESOURCE_EXHAUSTED,
          `the search ran longer than ${this.limitSeconds} s and was stopped; narrow it (${narrow}), or raise BATON_SEARCH_SECONDS`,
        );
      throw error;
    } finally {
      this.leave(key);
    }
  }

  private enter(key: string, signal?: AbortSignal): Promise<void> | undefined {
    if (!this.waiting.has(key) && this.shares.hasRoom(key)) {
      this.shares.take(key);
      return undefined;
    }
    const queue = this.waiting.get(key) ?? [];
    if (queue.length >= SEARCHES_WAITING_PER_KEY)
      throw new RpcError(
        grpc.status.RESOURCE_EXHAUSTED,
        `this key has ${SEARCHES_WAITING_PER_KEY} searches of runs waiting for their turn; wait for their answers before sending more`,
      );
    this.waiting.set(key, queue);
    return new Promise<void>((admit, refuse) => {
      const waiter: Waiter = { admit, refuse };
      queue.push(waiter);
      signal?.addEventListener(
        "abort",
        () => {
          const at = queue.indexOf(waiter);
          if (at < 0) return;
          queue.splice(at, 1);
          if (queue.length === 0 && this.waiting.get(key) === queue) this.waiting.delete(key);
          refuse(new RpcError(grpc.status.CANCELLED, "the call was cancelled while its search waited"));
        },
        { once: true },
      );
    });
  }

  private leave(key: string): void {
    this.shares.release(key);
    this.admitNext();
  }

  /** Admits waiting searches while connections are free: the first key in turn with room, which then goes last. */
  private admitNext(): void {
    while (this.shares.inProgress < this.shares.max) {
      let next: string | undefined;
      for (const key of this.waiting.keys())
        if (this.shares.hasRoom(key)) {
          next = key;
          break;
        }
      if (next === undefined) return;
      const queue = this.waiting.get(next)!;
      const waiter = queue.shift()!;
      this.waiting.delete(next);
      if (queue.length > 0) this.waiting.set(next, queue);
      this.shares.take(next);
      waiter.admit();
    }
  }
}
