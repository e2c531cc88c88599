// What the server's batches read as they lock their runs: the results of the
// statement that begins each (store/run-batches.ts), for a test that counts
// bytes a server in this process reads back.
import type pg from "pg";
import { statementsDuring } from "./statements.js";

/** The results of each run-locking batch begun while `fn` ran: [BEGIN, the runs, their tasks, the named tasks of runs kept in memory]. */
export async function runLockReadsDuring(fn: () => Promise<unknown>): Promise<pg.QueryResult[][]> {
  const reads: pg.QueryResult[][] = [];
  await statementsDuring(fn, ([text], results) => {
    if (typeof text === "string" && text.startsWith("BEGIN; SELECT")) {
      void results.then(
        (each) => reads.push(each as pg.QueryResult[]),
        () => {},
      );
    }
  });
  return reads;
}
