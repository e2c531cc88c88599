// When a task handed to a worker must be heard from again: `leaseSeconds`
// (its responseTimeoutSeconds, or what the worker asked for) from now, and
// never past its own timeout (timeoutSeconds from its start). The decider and
// a hand-off at commit compute it in TypeScript, claims and lease extensions
// in SQL: both forms are here, side by side, and tested to agree.

export interface LeaseTerms {
  now: number;
  /** When the task started (0: not yet). */
  startedAt: number;
  leaseSeconds: number;
  timeoutSeconds: number;
}

export function leaseDeadline({ now, startedAt, leaseSeconds, timeoutSeconds }: LeaseTerms): number {
  const response = now + leaseSeconds * 1000;
  return timeoutSeconds > 0 && startedAt > 0 ? Math.min(response, startedAt + timeoutSeconds * 1000) : response;
}

/** The same rule as a SQL expression over the given SQL expressions (columns, parameters). */
export function leaseDeadlineSql(terms: { now: string; startedAt: string; leaseSeconds: string; timeoutSeconds: string }): string {
  const response = `(${terms.now} + (${terms.leaseSeconds}) * 1000::bigint)`;
  return `CASE WHEN ${terms.timeoutSeconds} > 0 AND ${terms.startedAt} > 0
    THEN least(${response}, ${terms.startedAt} + ${terms.timeoutSeconds} * 1000::bigint) ELSE ${response} END`;
}
