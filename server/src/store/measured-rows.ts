// Rows that may each be large (a definition, a run with its payloads), read
// for a page that ends after so many bytes: PostgreSQL measures the rows it
// reads and sends only those that start within the room the page has left, so
// the server never receives, parses or holds a row the page cannot show (a
// read of 16 definitions of 4 MiB for a page with room for one was 64 MB).
import type { Queryable } from "./db.js";
import type { Row } from "./rows.js";

/** Items read for a page, each with its size in bytes, and how many rows the statement read (more than sent: the room ran out). */
export interface Measured<T> {
  items: T[];
  sizes: number[];
  read: number;
}

/**
 * The rows of `page` (a SELECT ending in ORDER BY `orderBy` and a LIMIT, over
 * `params`) that start within `room` bytes, each measured by `bytes` (an SQL
 * expression over the row's columns, qualified `p.`), as items.
 */
export async function measuredRows<T>(
  q: Queryable,
  page: { sql: string; params: unknown[]; bytes: string; orderBy: string },
  room: number,
  toItem: (row: Row) => T,
): Promise<Measured<T>> {
  const { rows } = await q.query(
    `SELECT * FROM (
       SELECT m.*, count(*) OVER () AS page_read,
         coalesce(sum(m.row_bytes) OVER (ORDER BY ${page.orderBy} ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS bytes_before
       FROM (SELECT p.*, ${page.bytes} AS row_bytes FROM (${page.sql}) p) m
     ) measured
     WHERE bytes_before < $${page.params.length + 1}
     ORDER BY ${page.orderBy}`,
    [...page.params, room],
  );
  return { items: rows.map(toItem), sizes: rows.map((r) => Number(r["row_bytes"])), read: Number(rows[0]?.["page_read"] ?? 0) };
}

/**
 * A page of at most `limit` items that ends once they pass `bytes` (always
 * at least one), read `perRead` a statement after `after` (`read`: up to n
 * items after a key, within a room, as measuredRows reads them), and whether
 * more follow.
 */
export async function measuredPage<T, K>(
  limit: number,
  bytes: number,
  perRead: number,
  after: K | undefined,
  read: (after: K | undefined, limit: number, room: number) => Promise<Measured<T>>,
  keyOf: (item: T) => K,
): Promise<{ items: T[]; more: boolean }> {
  const items: T[] = [];
  let used = 0;
  for (;;) {
    const asked = Math.min(perRead, limit - items.length + 1);
    const room = bytes - used;
    // The bytes ran out just as a statement's items did: more may follow (the next page may be empty).
    if (room <= 0) return { items, more: true };
    const got = await read(after, asked, room);
    for (const [i, item] of got.items.entries()) {
      if (items.length === limit) return { items, more: true };
      items.push(item);
      used += got.sizes[i]!;
    }
    if (got.items.length < got.read) return { items, more: true };
    if (got.read < asked) return { items, more: false };
    after = keyOf(items[items.length - 1]!);
  }
}
