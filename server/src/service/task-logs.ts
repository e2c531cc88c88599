// Task logs: who may write to a task's log, and reading one a page at a time.
// A worker key writes only to a task it holds the lease of (as for its
// result), so a key cannot fill the logs of tasks it was never given; a page
// is bounded in lines and bytes, so reading a long log cannot take the
// server's memory; and a task's log is bounded in lines, so a worker holding
// a lease cannot fill the database through it.
import { grpc, RpcError } from "@baton/protocol";
import type { Principal } from "../auth/policy.js";
import type { Store } from "../store/store.js";
import { invalid, notFound } from "./errors.js";

/** Lines per page, at most (and when the request names no page size). */
export const LOG_PAGE_LINES = 1000;
/** Bytes of messages per page, about (a page always holds at least one line). */
export const LOG_PAGE_BYTES = 4 * 1024 * 1024;

/** Lines one task's log keeps, at most: a worker holding a lease cannot grow a log without bound. */
export const TASK_LOG_MAX_LINES = 10_000;
/** Bytes of messages one task's log keeps, at most: 10,000 lines of 2 MiB each were 20 GB. */
export const TASK_LOG_MAX_BYTES = 16 * 1024 * 1024;
export const TASK_LOG_CAP = { lines: TASK_LOG_MAX_LINES, bytes: TASK_LOG_MAX_BYTES };

export function logFull(taskId: string): RpcError {
  return new RpcError(
    grpc.status.RESOURCE_EXHAUSTED,
    `task ${taskId}'s log is full: one task keeps at most ${TASK_LOG_MAX_LINES} log lines and ${TASK_LOG_MAX_BYTES} bytes of them; log less often (a line per step, not per item), or put bulk output in the task's output`,
  );
}

/** Refuses unless the task exists and the caller holds its lease (admin keys, and servers without keys, need none). */
export async function checkLogWriter(store: Pick<Store, "taskLease">, taskId: string, leaseToken: string, principal: Principal | undefined): Promise<void> {
  const lease = await store.taskLease(taskId);
  if (!lease) throw notFound(`no task ${taskId}`);
  if (principal?.role === "admin") return;
  if (lease.status !== "IN_PROGRESS" || lease.leaseToken === "" || lease.leaseToken !== leaseToken) {
    throw new RpcError(
      grpc.status.FAILED_PRECONDITION,
      leaseToken === ""
        ? `AddTaskLog needs the lease_token task ${taskId} was handed out with (a worker logs only to a task it holds)`
        : `stale lease for task ${taskId}: it ended or was handed to another worker; its log is closed to this lease`,
    );
  }
}

/** The page a GetTaskLogs request asks for: its size (coerced to the cap) and where it starts. */
export function pageOf(pageSize: number, pageToken: string): { limit: number; after: number } {
  if (pageSize < 0) throw invalid("page_size must not be negative (0 means the default, 1000)");
  const limit = pageSize === 0 ? LOG_PAGE_LINES : Math.min(pageSize, LOG_PAGE_LINES);
  if (pageToken === "") return { limit, after: 0 };
  const text = Buffer.from(pageToken, "base64url").toString();
  if (!/^\d{1,18}$/.test(text)) throw invalid("page_token is not one this server gave: pass a next_page_token unchanged, or none for the first page");
  return { limit, after: Number(text) };
}

export function pageToken(after: number | undefined): string {
  return after === undefined ? "" : Buffer.from(String(after)).toString("base64url");
}
