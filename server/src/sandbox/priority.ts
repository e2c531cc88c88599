// User code yields the CPU to the thread that serves calls. A tenant's
// spinning scripts and endless jq filters keep pool threads busy up to their
// deadlines; at the same priority, on a machine with few cores, they take
// the serving thread's share of a core, and /healthz and every other call
// wait for the kernel's scheduler. Pool threads run at a lower priority.
import { setPriority } from "node:os";

/**
 * The nice value of a pool thread: at 0 against 10 the kernel gives the
 * serving thread about nine tenths of a core both want.
 */
export const POOL_THREAD_NICE = 10;

/**
 * Lowers the calling thread's priority. On Linux a nice value belongs to the
 * thread (0 names the calling one), so the process's other threads keep
 * theirs; elsewhere it would renice the whole process, the serving thread
 * with it, so there it does nothing.
 */
export function lowerThreadPriority(): void {
  if (process.platform !== "linux") return;
  try {
    setPriority(0, POOL_THREAD_NICE);
  } catch {
    // A sandbox that forbids it (seccomp) leaves the thread as it is: it still works, at the same priority.
  }
}
