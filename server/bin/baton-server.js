#!/usr/bin/env node
// The `baton-server` executable. Committed (dist/ is not) so that npm links it
// at install time, before the first build; it loads the built server.
const main = new URL("../dist/main.js", import.meta.url);
try {
  await import(main.href);
} catch (error) {
  if (error?.code !== "ERR_MODULE_NOT_FOUND" || !String(error.message).includes(main.pathname)) throw error;
  process.stderr.write(
    "error: baton-server is not built yet (no server/dist/main.js)\n" + "  run `npm run build` at the root of the Baton checkout, then start it again\n",
  );
  process.exit(1);
}
