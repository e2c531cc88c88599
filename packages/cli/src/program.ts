// The `baton` command line: global options, one module per command, and
// commander's usage errors mapped to exit code 2.
import { Command, CommanderError, Option } from "commander";
import { CliError, Exit } from "./cli/exit.js";
import { compileCommand } from "./commands/compile.js";
import { defsCommand } from "./commands/defs.js";
import { devCommand } from "./commands/dev.js";
import { getCommand } from "./commands/get.js";
import { graphCommand } from "./commands/graph.js";
import { handlersCommand } from "./commands/handlers.js";
import { keysCommand } from "./commands/keys.js";
import { pauseCommand } from "./commands/pause.js";
import { publishCommand } from "./commands/publish.js";
import { rerunCommand } from "./commands/rerun.js";
import { runsCommand } from "./commands/runs.js";
import { schedulesCommand } from "./commands/schedules.js";
import { restartCommand } from "./commands/restart.js";
import { resumeCommand } from "./commands/resume.js";
import { routeCommand } from "./commands/route.js";
import { retryCommand } from "./commands/retry.js";
import { searchCommand } from "./commands/search.js";
import { signalCommand } from "./commands/signal.js";
import { skipCommand } from "./commands/skip.js";
import { startCommand } from "./commands/start.js";
import { tasksCommand } from "./commands/tasks.js";
import { terminateCommand } from "./commands/terminate.js";

export const VERSION = "0.1.0";

/**
 * The options every command takes. `signal` and `skip` use --output for the
 * task's output (Conductor's word for it), so there the format is -o / --format.
 */
function globalOptions(command: Command): Option[] {
  const taken = command.options.some((o) => o.long === "--output");
  return [
    new Option(taken ? "-o, --format <format>" : "-o, --output <format>", "result format: text or json (default: text)").choices(["text", "json"]),
    new Option("--address <host:port>", "Baton server address (env: BATON_ADDRESS, default 127.0.0.1:7233)"),
    new Option("--token <token>", "bearer token sent to the server (env: BATON_TOKEN)"),
  ];
}

export function buildProgram(): Command {
  const program = new Command("baton")
    .description("Baton: run Conductor JSON workflows on a thin gRPC server; write them in TypeScript")
    .version(VERSION, "-V, --version")
    .enablePositionalOptions()
    .showHelpAfterError("(run with --help for usage)")
    .exitOverride()
    .addHelpText(
      "after",
      `
Environment:
  BATON_ADDRESS        server address (default 127.0.0.1:7233)
  BATON_TOKEN          bearer token
  BATON_DATABASE_URL   PostgreSQL for \`baton dev\` instead of the embedded one

Exit codes:
  0 ok   1 error (server/runtime)   2 usage   3 changes found (publish --exit-code)   4 validation failed`,
    );

  devCommand(program);
  compileCommand(program);
  publishCommand(program);
  startCommand(program);
  getCommand(program);
  searchCommand(program);
  pauseCommand(program);
  resumeCommand(program);
  terminateCommand(program);
  retryCommand(program);
  restartCommand(program);
  rerunCommand(program);
  skipCommand(program);
  signalCommand(program);
  defsCommand(program);
  handlersCommand(program);
  schedulesCommand(program);
  runsCommand(program);
  routeCommand(program);
  tasksCommand(program);
  graphCommand(program);
  keysCommand(program);
  // Every command takes the global options, before or after its own arguments.
  for (const command of [program, ...program.commands]) {
    for (const option of globalOptions(command)) command.addOption(option);
  }
  return program;
}

/** Parses argv and runs the command; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : Exit.OK;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? Exit.OK : Exit.USAGE;
    // An argument parser's refusal (e.g. --limit abc) surfaces before any action runs.
    if (error instanceof CliError) {
      process.stderr.write(`error: ${error.message}\n`);
      return error.exitCode;
    }
    throw error;
  }
}
