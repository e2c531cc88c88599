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
}

export const DEFAULT_LIMITS: Limits = {
  payloadBytes: 2 * 1024 * 1024,
  definitionBytes: 4 * 1024 * 1024,
  maxWaitMs: 5 * 60 * 1000,
  maxStreamAgeMs: 60 * 60 * 1000,
};
