// Threads that run user code (scripts, jq, JSONPath filters, JSON Schemas)
// give way to the thread that serves calls. On a machine with few cores the
// scheduler shares a core between a spinning script and the serving thread
// alike, so each call, each decision and each /healthz answer waited behind a
// slice of user code. A pool thread lowers its own priority by this much: it
// still runs when a core is free, and yields when the serving thread (or the
// database it waits on) wants one. Its limits count its own CPU time
// (cpu-time.ts), so a script is not stopped for the time it gave way.
import { getPriority, setPriority } from "node:os";

/** How much lower than the process a user-code thread runs (Linux niceness: 0 to 19, higher yields more). */
export const USER_CODE_NICENESS = 10;

/**
 * Lowers the calling thread's priority, on Linux alone: there a thread's
 * niceness is its own, elsewhere it would be the whole process's. Where it is
 * refused, the thread keeps its priority.
 */
export function yieldToServingThread(): void {
  if (process.platform !== "linux") return;
  try {
    setPriority(Math.min(19, getPriority() + USER_CODE_NICENESS));
  } catch {
    // A sandbox that forbids it: the thread runs as before.
  }
}
