// What the server's batches read as they lock their runs: the results of the
// statement that begins each (store/run-batches.ts), for a test that counts
// bytes a server in this process reads back.
import pg from "pg";

/** The results of each run-locking batch begun while `fn` ran: [BEGIN, the runs, their tasks, the named tasks of runs kept in memory]. */
export async function runLockReadsDuring(fn: () => Promise<unknown>): Promise<pg.QueryResult[][]> {
  const reads: pg.QueryResult[][] = [];
  const client = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = client.query;
  client.query = function (this: unknown, ...args: unknown[]) {
    const result = query.apply(this, args);
    if (typeof args[0] === "string" && args[0].startsWith("BEGIN; SELECT") && result instanceof Promise) {
      void result.then(
        (results: pg.QueryResult[]) => reads.push(results),
        () => {},
      );
    }
    return result;
  };
  try {
    await fn();
  } finally {
    client.query = query;
  }
  return reads;
}
