// baton defs [name]: workflow definitions (latest of each, or every version of
// one); -o json prints Conductor WorkflowDefs. --version N prints one definition.
// `defs delete <name> <version>` and `defs delete-task <type>` remove a
// definition, as Conductor's DELETE endpoints do: runs already started go on.
import { parseJson } from "@baton/protocol";
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { intArg } from "../cli/context.js";
import { CliError, usage } from "../cli/exit.js";
import { table, time } from "../cli/output.js";
import { withGlobalOptions } from "../cli/subcommand.js";

export function defsCommand(program: Command): void {
  const defs = program
    .command("defs")
    .description("list workflow definitions: the latest of each, or every version of <name> (-o json: WorkflowDefs)")
    .argument("[name]", "one workflow's versions")
    .option("--version <n>", "with <name>: print that version's definition (JSON)", intArg("--version", 1))
    .action(
      action(async (ctx, name: string | undefined, opts: { version?: number }) => {
        if (opts.version !== undefined) {
          if (name === undefined) throw usage("--version needs a <name>");
          const version = opts.version;
          ctx.out.value(await ctx.call((c) => c.getWorkflowDef(name, version)));
          return;
        }
        const definitions = await ctx.call((c) => c.listWorkflowDefs({ name: name ?? "", allVersions: name !== undefined, withDefinitions: ctx.out.json }));
        const sorted = [...definitions].sort((a, b) => a.name.localeCompare(b.name) || a.version - b.version);
        // One workflow's versions is a read of one thing: a name with none is not found (exit 1), as --version's is.
        if (name !== undefined && sorted.length === 0)
          throw new CliError(`not found: no workflow definition named ${name} (baton defs lists the registered ones)`);
        if (ctx.out.json) {
          ctx.out.value(sorted.map((d) => parseJson(d.definitionJson)));
          return;
        }
        if (sorted.length === 0) {
          ctx.out.line("no workflow definitions");
          return;
        }
        ctx.out.emit(null, () =>
          table(
            ["NAME", "VERSION", "REGISTERED", "HASH", "DESCRIPTION"],
            sorted.map((d) => [d.name, String(d.version), time(Number(d.createTimeMs)), d.contentHash.slice(0, 12), d.description]),
          ),
        );
      }),
    );

  withGlobalOptions(
    defs
      .command("delete")
      .description("remove one version of a workflow definition (runs already started go on; starting that version is refused from then on)")
      .argument("<name>", "workflow name")
      .argument("<version>", "the version to remove", intArg("<version>", 1)),
  ).action(
    action(async (ctx, name: string, version: number) => {
      const { latestVersion } = await ctx.call((c) => c.deleteWorkflowDef(name, version));
      ctx.out.emit(
        { ok: true, deleted: { name, version }, latestVersion },
        () => `workflow ${name} version ${version}: deleted; ${latestVersion > 0 ? `latest is now version ${latestVersion}` : "no version is left"}`,
      );
    }),
  );

  withGlobalOptions(
    defs
      .command("delete-task")
      .description("remove a task definition (tasks of that type still run, with the defaults of a type without a definition)")
      .argument("<type>", "task definition name"),
  ).action(
    action(async (ctx, type: string) => {
      await ctx.call((c) => c.deleteTaskDef(type));
      ctx.out.emit({ ok: true, deleted: type }, () => `task definition ${type}: deleted`);
    }),
  );
}
