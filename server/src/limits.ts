// Size limits on what clients send; enforced at the edge, reported with the limit.
export interface Limits {
  /** Any one JSON payload (input, output). */
  payloadBytes: number;
  /** One workflow or task definition. */
  definitionBytes: number;
  /** The longest a start-and-wait or wait call may block. */
  maxWaitMs: number;
  /** The longest a stream (Dispatch) stays open, on the server's clock; workers then open a new one. */
  maxStreamAgeMs: number;
  /** The longest one statement of a search or count of runs may run before PostgreSQL stops it (the caller is told to narrow it). */
  searchMs: number;
  /**
   * The most task types one key's open Dispatch streams may wait on at once
   * on a replica, each stream counting each of its types (BATON_DISPATCH_SUBSCRIPTIONS_PER_KEY).
   */
  dispatchSubscriptionsPerKey: number;
  /**
   * The most events one key may have published and not yet handled (callers
   * without keys count as one key; BATON_MAX_WAITING_EVENTS_PER_KEY).
   */
  waitingEventsPerKey: number;
}

export const DEFAULT_LIMITS: Limits = {
  payloadBytes: 2 * 1024 * 1024,
  definitionBytes: 4 * 1024 * 1024,
  maxWaitMs: 5 * 60 * 1000,
  maxStreamAgeMs: 60 * 60 * 1000,
  searchMs: 15_000,
  // A fleet of a thousand workers with a stream for each of fifty types.
  dispatchSubscriptionsPerKey: 50_000,
  // Minutes of a busy bus's handling; a million events of a few KiB would be gigabytes.
  waitingEventsPerKey: 100_000,
};

/** The most results one UpdateTasks call may carry (Baton's workers send at most 256). */
export const MAX_RESULTS_PER_UPDATE = 1000;

/** The refusal of an UpdateTasks call carrying `count` results, over MAX_RESULTS_PER_UPDATE. */
export function tooManyResults(count: number): string {
  return `UpdateTasks carries ${count} results, over the ${MAX_RESULTS_PER_UPDATE} one call may: send them in several calls`;
}
