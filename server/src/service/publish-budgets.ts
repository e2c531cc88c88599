// The queries pool's time that publish-time path checks may take, per caller:
// one budget per API key (one for every caller without keys), shared by its
// publishes however many run at once or one after another (a bulk REST PUT),
// and refilled with time. N parallel publishes of one key cost what one does.
import type { Clock } from "../clock.js";
import type { Queries } from "../sandbox/queries.js";

/** What a publish's checks ask of the queries pool. */
export type PublishChecks = Pick<Queries, "schemaProblem" | "pathProblems" | "limits">;

/** What path checks draw on: each request takes its share when sent and gives back what its thread did not use. */
export interface Budget {
  take(ms: number): number;
  giveBack(ms: number): void;
  /** Says what was spent, for a path refused unchecked. */
  readonly spent: string;
}

/** A budget for one publish alone (checks run outside a server: tests, tools). */
export function oneBudget(ms: number): Budget {
  let left = ms;
  return {
    take(want) {
      const granted = Math.max(0, Math.min(want, left));
      left -= granted;
      return granted;
    },
    giveBack(unused) {
      left += unused;
    },
    spent: `the definition's paths took all of the ${ms} ms a publish may spend checking them`,
  };
}

/** How long a spent caller budget takes to fill again. */
export const PUBLISH_REFILL_MS = 60_000;

/**
 * Budgets by caller: each holds at most `capacityMs` and fills at
 * `capacityMs` per PUBLISH_REFILL_MS of the clock, so a caller's checks
 * take at most about a third of one pool thread over time. A full budget is
 * forgotten (the next take starts it full again), so callers that publish
 * now and then hold no memory.
 */
export class PublishBudgets {
  private readonly buckets = new Map<string, { left: number; at: number }>();

  constructor(
    private readonly clock: Clock,
    private readonly capacityMs: number,
  ) {}

  /** The budget `caller` (an API key's id; "" without keys) draws on. */
  of(caller: string): Budget {
    return {
      take: (want) => {
        const bucket = this.filled(caller);
        const granted = Math.max(0, Math.min(want, bucket.left));
        bucket.left -= granted;
        this.buckets.set(caller, bucket);
        return granted;
      },
      giveBack: (unused) => {
        const bucket = this.filled(caller);
        bucket.left = Math.min(this.capacityMs, bucket.left + unused);
        if (bucket.left >= this.capacityMs) this.buckets.delete(caller);
        else this.buckets.set(caller, bucket);
      },
      spent: `this key's publishes took all of the ${this.capacityMs} ms their path checks may take (given back over ${PUBLISH_REFILL_MS / 1000} s)`,
    };
  }

  private filled(caller: string): { left: number; at: number } {
    const now = this.clock.now();
    const bucket = this.buckets.get(caller) ?? { left: this.capacityMs, at: now };
    const refill = ((now - bucket.at) * this.capacityMs) / PUBLISH_REFILL_MS;
    return { left: Math.min(this.capacityMs, bucket.left + Math.max(0, refill)), at: now };
  }
}

/** Requests of all publishes together in the queries pool at once (a definition's check, its paths' checks): one of its threads, so runs' filters and schemas always find the other. */
export const PUBLISH_CHECKS_AT_ONCE = 1;

/** A line of requests to the queries pool: at most a number run at once, the others wait their turn, first come first served. */
export type PoolLine = <T>(request: () => Promise<T>) => Promise<T>;

/** A line for publishes' requests to the queries pool: at most `atOnce` run at once, the others wait their turn, first come first served. */
export function publishLine(atOnce = PUBLISH_CHECKS_AT_ONCE): PoolLine {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (request) => {
    if (running >= atOnce) await new Promise<void>((resolve) => waiting.push(resolve));
    else running++;
    try {
      return await request();
    } finally {
      // The next in line takes this turn over (running stays the same), else it is given up.
      const next = waiting.shift();
      if (next) next();
      else running--;
    }
  };
}

/**
 * `queries` whose path checks wait their turn in `line`, so that at most
 * one is in the pool at once whatever the number of publishes and keys (a
 * request's budget is charged only for the time its thread spends, not for
 * its wait).
 */
export function inTurn(queries: PublishChecks, line = publishLine()): PublishChecks {
  return {
    limits: queries.limits,
    schemaProblem: (...args) => queries.schemaProblem(...args),
    pathProblems: (paths, timeoutMs) => line(() => queries.pathProblems(paths, timeoutMs)),
  };
}
