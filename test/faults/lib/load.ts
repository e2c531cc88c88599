// Starts the planned runs against one or more servers, each with its own
// idempotency key, retrying through outages until the server acknowledges it.
import { BatonClient } from "@baton/client";
import type { Planned } from "./flows.js";

export interface StartLog {
  /** key -> the run id an OK reply named. */
  acknowledged: Map<string, string>;
  /** Failed attempts by gRPC code. */
  errors: Map<number | string, number>;
  /** Start latencies of acknowledged starts, ms. */
  latencies: number[];
}

export function newStartLog(): StartLog {
  return { acknowledged: new Map(), errors: new Map(), latencies: [] };
}

export async function startAll(
  clients: BatonClient[],
  planned: Planned[],
  log: StartLog,
  options: { concurrency?: number; deadlineMs?: number; ratePerSecond?: number } = {},
): Promise<void> {
  let next = 0;
  const deadline = Date.now() + (options.deadlineMs ?? 600_000);
  const began = Date.now();
  const one = async (worker: number) => {
    for (;;) {
      const i = next++;
      const p = planned[i];
      if (!p) return;
      if (options.ratePerSecond) {
        const due = began + (i / options.ratePerSecond) * 1000;
        if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      }
      for (let attempt = 0; ; attempt++) {
        const client = clients[(i + attempt + worker) % clients.length]!;
        const t0 = Date.now();
        let id: string;
        try {
          const response = await client.workflows.startWorkflow(
            { name: p.name, inputJson: JSON.stringify(p.input), idempotencyKey: p.key, correlationId: p.key, priority: 0 },
            { deadline: 10_000 },
          );
          id = response.workflowId;
        } catch (error) {
          const code = (error as { code?: number }).code ?? String(error);
          log.errors.set(code, (log.errors.get(code) ?? 0) + 1);
          if (Date.now() > deadline) throw new Error(`could not start ${p.key} before the deadline: ${String(error)}`);
          await new Promise((r) => setTimeout(r, Math.min(1000, 20 * 2 ** Math.min(attempt, 6)) * (0.5 + Math.random())));
          continue;
        }
        log.latencies.push(Date.now() - t0);
        const previous = log.acknowledged.get(p.key);
        if (previous && previous !== id) throw new Error(`key ${p.key} named two runs: ${previous} and ${id}`);
        log.acknowledged.set(p.key, id);
        break;
      }
    }
  };
  await Promise.all(Array.from({ length: options.concurrency ?? 16 }, (_, w) => one(w)));
}
