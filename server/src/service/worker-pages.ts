// Pages of ListWorkers: the workers connected to every replica, ordered by
// replica and then by the number each replica gave its workers as they
// connected, so a page token (the last worker's replica and number) goes on
// where the page ended while workers come and go. A page ends at its size or
// once its worker ids and task types pass LIST_PAGE_BYTES (a worker may serve
// 100 task types of 512 characters): always at least one worker.
import type { ReplicaWorker } from "../console/replica-view.js";
import { LIST_PAGE_BYTES, type ListPage } from "./list-pages.js";
import { writePageToken } from "./page-tokens.js";

/** The list name page tokens of ListWorkers carry. */
export const WORKERS_LIST = "workers";

type Key = [string, number];

function keyOf(w: ReplicaWorker): Key {
  // A replica of an earlier version beats its workers without numbers.
  return [w.replica, w.id ?? 0];
}

function compare(a: Key, b: Key): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] - b[1];
}

/** The page of `workers` (in any order) that `page` asks for, and the token of the page after it. */
export function workerPage(workers: readonly ReplicaWorker[], page: ListPage): { workers: ReplicaWorker[]; nextPageToken: string } {
  const after = page.after as Key | undefined;
  const sorted = (after ? workers.filter((w) => compare(keyOf(w), after) > 0) : [...workers]).sort((a, b) => compare(keyOf(a), keyOf(b)));
  const shown: ReplicaWorker[] = [];
  let chars = 0;
  for (const w of sorted) {
    if (shown.length === page.limit || (shown.length > 0 && chars >= LIST_PAGE_BYTES)) break;
    shown.push(w);
    chars += w.workerId.length + w.taskTypes.reduce((n, type) => n + type.length, 0);
  }
  const last = shown[shown.length - 1];
  return { workers: shown, nextPageToken: shown.length < sorted.length && last ? writePageToken({ l: WORKERS_LIST, k: keyOf(last) }) : "" };
}
