// The orders the runs list is read in, each a column list ending in the run
// id (a total order) and served by an index (see the "runs list orders"
// migration), and the keyset that continues a page after its last run.
import type { RunState } from "../decider/model.js";

export type RunSortKey = "start" | "end" | "name" | "status";

export interface RunSort {
  by: RunSortKey;
  ascending: boolean;
}

/** Columns of each order, all in the order's direction; ties fall to the next column, lastly the id. */
const COLUMNS: Record<RunSortKey, { column: string; value: (run: RunState) => string | number }[]> = {
  start: [{ column: "created_at", value: (r) => r.createdAt }],
  // Not-ended runs have ended_at = 0: first ascending, last descending.
  end: [{ column: "ended_at", value: (r) => r.endedAt }],
  name: [
    { column: "name", value: (r) => r.name },
    { column: "created_at", value: (r) => r.createdAt },
  ],
  status: [
    { column: "status", value: (r) => r.status },
    { column: "created_at", value: (r) => r.createdAt },
  ],
};

/** A position in an order: the values of its columns (the id last) of the run a page ended on. */
export type RunCursor = (string | number)[];

export const NEWEST_FIRST: RunSort = { by: "start", ascending: false };

/** The cursor after `run` in `sort`. */
export function cursorAfter(run: RunState, sort: RunSort): RunCursor {
  return [...COLUMNS[sort.by].map((c) => c.value(run)), run.id];
}

/** How many values a cursor of `sort` has. */
export const cursorLength = (sort: RunSort) => COLUMNS[sort.by].length + 1;

/**
 * The ORDER BY of `sort` and, given a cursor, the row comparison that keeps
 * only rows after it (one comparison over the index's columns, so the index
 * is entered at the cursor). `param` binds a value and returns its placeholder.
 */
export function orderSql(sort: RunSort, after: RunCursor | undefined, param: (value: unknown) => string): { where?: string; orderBy: string } {
  const dir = sort.ascending ? "ASC" : "DESC";
  const columns = [...COLUMNS[sort.by].map((c) => c.column), "id"];
  const orderBy = columns.map((c) => `${c} ${dir}`).join(", ");
  if (!after) return { orderBy };
  const values = after.map((v, i) => (columns[i] === "id" ? `${param(v)}::uuid` : param(v)));
  return { where: `(${columns.join(", ")}) ${sort.ascending ? ">" : "<"} (${values.join(", ")})`, orderBy };
}

export const RUN_ORDERS_MIGRATION = {
  name: "runs list orders: the name, status and end indexes carry the order's tie-breakers",
  sql: `
    -- Each order of the runs list is read from an index in its own order,
    -- entered at the page token's keyset (ascending: scanned forward,
    -- descending: backward). Rather than add an index per order, the three
    -- indexes that already lead with name, status and end time are rebuilt
    -- with start time and id after their key; the same count of indexes, so
    -- a run's start writes the same entries (ended_at's index now also holds
    -- not-ended runs at 0: one entry more per start, the price of listing
    -- them in the end-time order). Columns ascending: a backward scan serves
    -- the newest-first filters these indexes served before.
    DROP INDEX baton.runs_name_created;
    CREATE INDEX runs_name_created_id ON baton.runs (name, created_at, id);
    DROP INDEX baton.runs_status_created;
    CREATE INDEX runs_status_created_id ON baton.runs (status, created_at, id);
    DROP INDEX baton.runs_name_status_created;
    CREATE INDEX runs_name_status_created_id ON baton.runs (name, status, created_at, id);
    DROP INDEX baton.runs_ended;
    CREATE INDEX runs_ended_id ON baton.runs (ended_at, id);
  `,
};
