// The statements a server in this process sends to PostgreSQL, seen as they
// go (through pg.Client's query, which the pool's clients share), for tests
// that count what the server reads or writes.
import pg from "pg";

/**
 * Runs `fn`, handing `see` the arguments of each statement sent meanwhile
 * (the text, or a query config with name and values), a promise of its
 * results (the pool passes a callback; a client's own call returns one), and
 * the connection it went on.
 */
export async function statementsDuring(
  fn: () => Promise<unknown>,
  see: (args: unknown[], results: Promise<unknown>, connection: pg.Client) => void,
): Promise<void> {
  const client = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown };
  const query = client.query;
  client.query = function (this: pg.Client, ...args: unknown[]) {
    const callback = args[args.length - 1];
    if (typeof callback !== "function") {
      const returned = query.apply(this, args);
      if (returned instanceof Promise) see(args, returned, this);
      return returned;
    }
    const results = new Promise((resolve, reject) => {
      args[args.length - 1] = (error: unknown, result: unknown) => {
        if (error) reject(error);
        else resolve(result);
        return (callback as (...r: unknown[]) => unknown)(error, result);
      };
    });
    results.catch(() => {});
    see(args, results, this);
    return query.apply(this, args);
  };
  try {
    await fn();
  } finally {
    client.query = query;
  }
}
