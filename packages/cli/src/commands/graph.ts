// baton graph <flow.json|flow.ts|name|run-id>: a Mermaid flowchart of a
// definition, or of a run with the path taken marked and the rest dimmed.
import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { grpc } from "@baton/protocol";
import type { ConductorWorkflow } from "@baton/client";
import { action } from "../cli/action.js";
import { intArg, type Context } from "../cli/context.js";
import { CliError, Exit, describeError, grpcCode, usage } from "../cli/exit.js";
import { formatCompileDiagnostic } from "../compiler/diagnostic.js";
import { emptyLoad, loadFile } from "../defs/load.js";
import { toMermaid, type RunOverlay } from "../graph/mermaid.js";

type Obj = Record<string, unknown>;

interface GraphOptions {
  version?: number;
  flow?: string;
  markdown?: boolean;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

export function graphCommand(program: Command): void {
  program
    .command("graph")
    .description("print a Mermaid flowchart of a definition, or of a run with its path marked")
    .argument("<target>", "a WorkflowDef .json file, a .ts flow file, a registered workflow name, or a run id")
    .option("--version <n>", "with a name: that version (default: latest)", intArg("--version", 1))
    .option("--flow <name>", "the flow to draw when the file holds several")
    .option("--markdown", "wrap in a ```mermaid fence")
    .action(
      action(async (ctx, target: string, opts: GraphOptions) => {
        const { def, run } = await resolve(ctx, target, opts);
        const chart = toMermaid(def, run);
        const text = opts.markdown ? "```mermaid\n" + chart + "```\n" : chart;
        if (ctx.out.json) ctx.out.value({ mermaid: chart, ...(run ? { workflowId: (run as unknown as ConductorWorkflow).workflowId } : {}) });
        else process.stdout.write(text);
      }),
    );
}

function pick(defs: Obj[], flow: string | undefined, what: string): Obj {
  const names = defs.map((d) => String(d["name"]));
  const chosen = flow !== undefined ? defs.filter((d) => d["name"] === flow) : defs;
  const first = chosen[chosen.length - 1];
  if (!first)
    throw usage(flow !== undefined ? `${what} has no flow named ${flow} (it has: ${names.join(", ") || "none"})` : `${what} holds no workflow definition`);
  if (flow === undefined && new Set(names).size > 1) throw usage(`${what} holds several flows (${names.join(", ")}); choose one with --flow`);
  return first;
}

async function resolve(ctx: Context, target: string, opts: GraphOptions): Promise<{ def: Obj; run?: RunOverlay }> {
  if (existsSync(target)) {
    if (/\.(c|m)?tsx?$/.test(target)) {
      const { compileFlows } = await import("../compiler/index.js");
      const result = await compileFlows([path.resolve(target)]);
      const errors = result.diagnostics.filter((d) => d.severity === "error");
      if (errors.length)
        throw new CliError(
          `${target} does not compile`,
          Exit.VALIDATION,
          errors.map((d) => formatCompileDiagnostic(d)),
        );
      return {
        def: pick(
          result.flows.map((f) => f.def as unknown as Obj),
          opts.flow,
          target,
        ),
      };
    }
    const loaded = emptyLoad();
    loadFile(path.resolve(target), true, loaded);
    if (loaded.problems.length)
      throw new CliError(
        `${target} is not readable as a definition`,
        Exit.VALIDATION,
        loaded.problems.map((p) => `${p.path || "/"}: ${p.message}`),
      );
    return {
      def: pick(
        loaded.workflows.map((w) => w.def),
        opts.flow,
        target,
      ),
    };
  }
  const tries = UUID.test(target) ? [runOf, defOf] : [defOf, runOf];
  for (const attempt of tries) {
    try {
      return await attempt(ctx, target, opts);
    } catch (error) {
      if (grpcCode(error) !== grpc.status.NOT_FOUND) throw describeError(error, ctx.address);
    }
  }
  throw new CliError(`no file, workflow definition or run named ${target}`);
}

async function defOf(ctx: Context, name: string, opts: GraphOptions): Promise<{ def: Obj }> {
  return { def: await ctx.baton.getWorkflowDef(name, opts.version) };
}

async function runOf(ctx: Context, id: string): Promise<{ def: Obj; run: RunOverlay }> {
  const run = await ctx.baton.getWorkflow(id);
  const def = (run.workflowDefinition as Obj | undefined) ?? (await ctx.baton.getWorkflowDef(run.workflowName, run.workflowVersion));
  return { def, run };
}
