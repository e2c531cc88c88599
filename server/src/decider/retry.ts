import type { TaskDef } from "@baton/sdk";

/** Seconds to wait before retry number `retryCount + 1` of a task (Conductor's rules). */
export function retryDelaySeconds(def: TaskDef, retryCount: number): number {
  const base = def.retryDelaySeconds ?? 60;
  let delay: number;
  switch (def.retryLogic ?? "FIXED") {
    case "LINEAR_BACKOFF":
      delay = base * (def.backoffScaleFactor ?? 1) * (retryCount + 1);
      break;
    case "EXPONENTIAL_BACKOFF":
      delay = base * 2 ** retryCount;
      break;
    default:
      delay = base;
  }
  const cap = def.maxRetryDelaySeconds;
  return cap !== undefined && cap > 0 ? Math.min(delay, cap) : delay;
}
