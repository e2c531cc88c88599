// The `baton` command line: global options, one module per command, and
// commander's usage errors mapped to exit code 2.
import { Command, CommanderError, Option } from "commander";
import { CliError, Exit } from "./cli/exit.js";
import { writeFailure } from "./cli/output.js";
import { compileCommand } from "./commands/compile.js";
import { defsCommand } from "./commands/defs.js";
import { devCommand } from "./commands/dev.js";
import { getCommand } from "./commands/get.js";
import { graphCommand } from "./commands/graph.js";
import { handlersCommand } from "./commands/handlers.js";
import { initCommand } from "./commands/init.js";
import { keysCommand } from "./commands/keys.js";
import { logsCommand } from "./commands/logs.js";
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
    new Option("--token <token>", "bearer token sent to the server (env: BATON_TOKEN; prefer it or --token-file: argv is visible to other users)"),
    new Option("--token-file <file>", "read the bearer token from a file, - for stdin (keeps it out of the process list)"),
    new Option("--verbose", "print stack traces and the server's own logs (env: BATON_LOG_LEVEL=debug)"),
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
  BATON_TOKEN          bearer token (or --token-file <file|->; --token in argv works but warns)
  BATON_DATABASE_URL   PostgreSQL for \`baton dev\` instead of the embedded one

Exit codes:
  0 ok   1 error (server/runtime)   2 usage   3 changes found (publish --exit-code)   4 validation failed`,
    );

  initCommand(program);
  devCommand(program);
  compileCommand(program);
  publishCommand(program);
  startCommand(program);
  getCommand(program);
  logsCommand(program);
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

/** `-o json` (or --output/--format json) anywhere on the line: errors are JSON too, even usage errors. */
function wantsJson(argv: string[]): boolean {
  return argv.some((a, i) => ((a === "-o" || a === "--output" || a === "--format") && argv[i + 1] === "json") || /^(-o|--output|--format)=?json$/.test(a));
}

function everyCommand(command: Command): Command[] {
  return [command, ...command.commands.flatMap(everyCommand)];
}

/** Parses argv and runs the command; returns the exit code. */
export async function run(argv: string[]): Promise<number> {
  const program = buildProgram();
  const json = wantsJson(argv.slice(2));
  let usageText = "";
  if (json) {
    // commander's own messages ("error: unknown option ...") are gathered and sent as one JSON error.
    for (const c of everyCommand(program)) c.configureOutput({ writeErr: (text) => (usageText += text), outputError: (text) => (usageText += text) });
  }
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === "number" ? process.exitCode : Exit.OK;
  } catch (error) {
    if (error instanceof CommanderError) {
      const code = error.exitCode === 0 ? Exit.OK : Exit.USAGE;
      if (json && code !== Exit.OK) {
        const message = (usageText.split("\n").find((l) => l.startsWith("error: ")) ?? error.message).replace(/^error: /, "");
        writeFailure(process.stderr, true, { message, exitCode: code });
      }
      return code;
    }
    // An argument parser's refusal (e.g. --limit abc) surfaces before any action runs.
    if (error instanceof CliError) {
      writeFailure(process.stderr, json, error);
      return error.exitCode;
    }
    throw error;
  }
}
