// The global options again, one level down: commander adds them to top-level
// commands only (program.ts), so a command's subcommands take them from here.
import { Option, type Command } from "commander";

export function withGlobalOptions(command: Command): Command {
  return command
    .addOption(new Option("-o, --output <format>", "result format: text or json (default: text)").choices(["text", "json"]))
    .addOption(new Option("--address <host:port>", "Baton server address (env: BATON_ADDRESS, default 127.0.0.1:7233)"))
    .addOption(new Option("--token <token>", "bearer token sent to the server (env: BATON_TOKEN)"))
    .addOption(new Option("--token-file <file>", "read the bearer token from a file, - for stdin (keeps it out of the process list)"));
}
