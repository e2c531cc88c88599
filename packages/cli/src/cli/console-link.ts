// Where a run is seen in the web console: BATON_CONSOLE_URL when set, else
// the console port (7234) on the server's host.
export const DEFAULT_CONSOLE_PORT = 7234;

export function consoleUrl(address: string, env: NodeJS.ProcessEnv = process.env): string {
  const set = env["BATON_CONSOLE_URL"];
  if (set) return set.replace(/\/+$/, "");
  const host = address.replace(/^[a-z]+:\/\//i, "").replace(/:\d+$/, "") || "127.0.0.1";
  return `http://${host}:${DEFAULT_CONSOLE_PORT}`;
}

export function runConsoleLink(address: string, runId: string, env: NodeJS.ProcessEnv = process.env): string {
  return `${consoleUrl(address, env)}/runs/${encodeURIComponent(runId)}`;
}
