// Wraps a command's work: builds its context, closes the client after, and
// turns the returned code (or thrown error) into the process's exit code.
import type { Command } from "commander";
import { Context } from "./context.js";
import { CliError, Exit, type ExitCode } from "./exit.js";

export type Action<A extends unknown[]> = (ctx: Context, ...args: A) => Promise<ExitCode | void>;

/** commander calls actions with (...arguments, options, command). */
export function action<A extends unknown[]>(fn: Action<A>) {
  return async (...args: unknown[]): Promise<void> => {
    const command = args[args.length - 1] as Command;
    const ctx = Context.of(command);
    try {
      const code = await fn(ctx, ...(args.slice(0, -1) as A));
      process.exitCode = code ?? Exit.OK;
    } catch (error) {
      const e = error instanceof CliError ? error : new CliError(error instanceof Error ? error.message : String(error));
      if (ctx.verbose && error instanceof Error && error.stack) process.stderr.write(error.stack + "\n");
      ctx.out.failure(e);
      process.exitCode = e.exitCode;
    } finally {
      ctx.close();
    }
  };
}
