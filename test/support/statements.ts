// The statements a server in this process sends to PostgreSQL, seen as they
// go (through pg.Client's query, which the pool's clients share), for tests
// that count what the server reads or writes.
import pg from "pg";

/**
 * Runs `fn`, handing `see` the arguments of each statement sent meanwhile
 * (the text, or a query config with name and values) and what the call
 * returned (a promise of the results, unless a callback was passed).
 */
export async function statementsDuring(fn: () => Promise<unknown>, see: (args: unknown[], returned: unknown) => void): Promise<void> {
  const client = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = client.query;
  client.query = function (this: unknown, ...args: unknown[]) {
    const returned = query.apply(this, args);
    see(args, returned);
    return returned;
  };
  try {
    await fn();
  } finally {
    client.query = query;
  }
}
