// Pages of the definition lists (workflow and task definitions, event
// handlers, schedules): a page size with a default and a cap, and an opaque
// token holding the sort key of the page's last item, so each page is one
// keyset read however much is stored.
import { invalid } from "./errors.js";
import { measuredPage, type Measured } from "../store/measured-rows.js";
import { readPageToken, writePageToken } from "./page-tokens.js";

/** Items per page when the caller gives no page_size. */
export const LIST_PAGE_DEFAULT = 100;
/** The most items a page holds. */
export const LIST_PAGE_MAX = 1000;
/** A page carrying whole definitions, or runs with their payloads, also stops after about this many bytes of them (always at least one). */
export const LIST_PAGE_BYTES = 4 * 1024 * 1024;

/** A sort key: a name, or a name and a version. */
export type ListKey = [string] | [string, number];

/** The page a list request asks for: how many items, and the key of the item it starts after. */
export interface ListPage {
  limit: number;
  after?: ListKey;
}

/**
 * Reads `page_size` and `page_token`. `list` names the list a token belongs
 * to (a token of another list is refused), `keyLength` how many fields its
 * key has.
 */
export function listPage(list: string, keyLength: 1 | 2, pageSize: number, pageToken: string): ListPage {
  if (pageSize < 0) throw invalid(`page_size must not be negative (0 means the default, ${LIST_PAGE_DEFAULT})`);
  const limit = pageSize === 0 ? LIST_PAGE_DEFAULT : Math.min(pageSize, LIST_PAGE_MAX);
  if (pageToken === "") return { limit };
  const { l, k } = readPageToken(pageToken);
  const issued = "page_token is not one this server issued for this list: pass a next_page_token unchanged, or none for the first page";
  if (l !== list || !Array.isArray(k) || k.length !== keyLength || typeof k[0] !== "string") throw invalid(issued);
  if (keyLength === 2 && !Number.isSafeInteger(k[1])) throw invalid(issued);
  return { limit, after: k as ListKey };
}

/**
 * The token for the page after `items` (read with one more than the page's
 * limit: that extra item only says another page follows), and the page.
 */
export function pageOfItems<T>(list: string, page: ListPage, items: T[], keyOf: (item: T) => ListKey): { items: T[]; nextPageToken: string } {
  if (items.length <= page.limit) return { items, nextPageToken: "" };
  const shown = items.slice(0, page.limit);
  return { items: shown, nextPageToken: writePageToken({ l: list, k: keyOf(shown[shown.length - 1]!) }) };
}

/** How many whole items (definitions, handlers, schedules) a list reads per query. */
export const BODY_READ = 16;

/**
 * A page of whole items read BODY_READ at a time (`read(after, n, room)`: a
 * keyset read of up to n items after a key, PostgreSQL sending only those
 * that start within `room` bytes: store/measured-rows.ts), ending at the
 * page's limit or once the items passed LIST_PAGE_BYTES (always at least
 * one): each item may be as large as a definition, so a thousand at once
 * could be gigabytes.
 */
export async function pageWithinBytes<T>(
  list: string,
  page: ListPage,
  read: (after: ListKey | undefined, limit: number, room: number) => Promise<Measured<T>>,
  keyOf: (item: T) => ListKey,
): Promise<{ items: T[]; nextPageToken: string }> {
  const { items, more } = await measuredPage(page.limit, LIST_PAGE_BYTES, BODY_READ, page.after, read, keyOf);
  const last = items[items.length - 1];
  return { items, nextPageToken: more && last ? writePageToken({ l: list, k: keyOf(last) }) : "" };
}
