// The runs list's order and page tokens: an order asked by enum (refused,
// naming the field, when unknown), and a token that carries the order it was
// issued for with the keyset of its page's last run, so the next page starts
// exactly after it whatever the order.
import { RunOrder } from "@baton/protocol";
import type { RunState } from "../decider/model.js";
import { isUuid } from "../rules/ids.js";
import { cursorAfter, cursorLength, NEWEST_FIRST, type RunCursor, type RunSort } from "../store/run-order.js";
import { invalid } from "./errors.js";
import { readPageToken, writePageToken } from "./page-tokens.js";

const SORTS: Partial<Record<RunOrder, RunSort>> = {
  [RunOrder.START_DESC]: NEWEST_FIRST,
  [RunOrder.START_ASC]: { by: "start", ascending: true },
  [RunOrder.END_DESC]: { by: "end", ascending: false },
  [RunOrder.END_ASC]: { by: "end", ascending: true },
  [RunOrder.NAME_ASC]: { by: "name", ascending: true },
  [RunOrder.NAME_DESC]: { by: "name", ascending: false },
  [RunOrder.STATUS_ASC]: { by: "status", ascending: true },
  [RunOrder.STATUS_DESC]: { by: "status", ascending: false },
};

const orderName = (order: RunOrder) => `RUN_ORDER_${RunOrder[order] ?? order}`;
const KNOWN = Object.keys(SORTS).map((o) => orderName(Number(o) as RunOrder));

/** The order a search asked for (`order`, else `oldest_first`, else newest first). */
export function runSort(req: { order: RunOrder; oldestFirst: boolean }): RunSort {
  if (req.order === RunOrder.UNSPECIFIED) return req.oldestFirst ? (SORTS[RunOrder.START_ASC] as RunSort) : NEWEST_FIRST;
  const sort = SORTS[req.order];
  if (!sort) throw invalid(`order ${req.order} is not a runs list order: use one of ${KNOWN.join(", ")}`);
  if (req.oldestFirst)
    throw invalid(`oldest_first is for the default order: with order ${orderName(req.order)} leave it unset (RUN_ORDER_START_ASC is oldest first)`);
  return sort;
}

const sortName = (sort: RunSort) => `${sort.by}-${sort.ascending ? "asc" : "desc"}`;

/** The token for the page after the one ending with `last`. */
export function pageToken(last: RunState, sort: RunSort): string {
  return writePageToken({ o: sortName(sort), k: cursorAfter(last, sort) });
}

/** The position a page token continues after, checked against the order asked now. */
export function pageCursor(token: string, sort: RunSort): RunCursor {
  const { o, k } = readPageToken(token);
  const issued = "page_token is not one this server issued: start again without it";
  if (typeof o !== "string" || !Array.isArray(k)) throw invalid(issued);
  if (o !== sortName(sort)) throw invalid(`page_token was issued for order ${o.slice(0, 32)}, not ${sortName(sort)}: start again without it`);
  if (k.length !== cursorLength(sort)) throw invalid(issued);
  const id = k[k.length - 1];
  if (typeof id !== "string" || !isUuid(id) || !k.slice(0, -1).every((v) => typeof v === "string" || Number.isSafeInteger(v))) throw invalid(issued);
  return k as RunCursor;
}
