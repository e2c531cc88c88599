// baton compile [paths...]: TypeScript flows -> Conductor JSON, with TypeScript's
// and the builder's diagnostics pointing at the user's lines.
import { existsSync } from "node:fs";
import path from "node:path";
import type { Command } from "commander";
import { action } from "../cli/action.js";
import { Exit } from "../cli/exit.js";
import { writeFailure } from "../cli/output.js";
import { formatCompileDiagnostic, relative, type CompileDiagnostic } from "../compiler/diagnostic.js";
import { expand, isFlowSource } from "../compiler/files.js";

interface CompileOptions {
  outDir: string;
  json?: boolean;
  write: boolean;
}

export function defaultFlowPaths(cwd = process.cwd()): string[] {
  return existsSync(path.join(cwd, "src/flows")) ? ["src/flows"] : ["."];
}

/** 4 for a flow that does not compile or validate, 1 for a module that throws when loaded. */
export function compileExitCode(diagnostics: CompileDiagnostic[]): number {
  const errors = diagnostics.filter((d) => d.severity === "error");
  if (errors.length === 0) return Exit.OK;
  return errors.some((d) => d.code === "BATON001") ? Exit.ERROR : Exit.VALIDATION;
}

function failed(diagnostics: CompileDiagnostic[]): string {
  const n = diagnostics.filter((d) => d.severity === "error").length;
  return `${n} error${n === 1 ? "" : "s"}; nothing written`;
}

export function compileCommand(program: Command): void {
  program
    .command("compile")
    .description("compile exported TypeScript flows to Conductor JSON (<name>.v<version>.json + taskdefs.json)")
    .argument("[paths...]", "files or directories (default: src/flows, else .)")
    .option("--out-dir <dir>", "where to write the JSON", "dist/flows")
    .option("--json", "print diagnostics and outputs as JSON (same as -o json)")
    .option("--no-write", "check only; write nothing")
    .action(
      action(async (ctx, paths: string[], opts: CompileOptions) => {
        const json = opts.json === true || ctx.out.json;
        const files = expand(paths.length ? paths : defaultFlowPaths(), isFlowSource);
        if (!json) ctx.out.progress(`compiling ${files.length} file${files.length === 1 ? "" : "s"}…`);
        const { compileFlows } = await import("../compiler/index.js");
        const result = await compileFlows(files);
        const code = compileExitCode(result.diagnostics);
        const written = code === Exit.OK && opts.write ? (await import("../compiler/write.js")).writeOutputs(result, path.resolve(opts.outDir)) : undefined;

        if (json) {
          ctx.out.value({
            ok: code === Exit.OK,
            diagnostics: result.diagnostics.map((d) => ({ ...d, ...(d.file ? { file: relative(d.file) } : {}) })),
            flows: result.flows.map((f) => ({
              name: f.name,
              version: f.version,
              source: { file: relative(f.source.file), export: f.source.exportName },
              ...(written ? { output: relative(written.flows.find((w) => w.name === f.name && w.version === f.version)?.file ?? "") } : {}),
            })),
            taskDefs: result.taskDefs.map((t) => t.name),
            ...(written?.taskDefs ? { taskDefsOutput: relative(written.taskDefs) } : {}),
          });
          // The report is the result; the failure is on stderr as every command's is.
          if (code !== Exit.OK) writeFailure(process.stderr, true, { message: failed(result.diagnostics), exitCode: code });
          return code as 0 | 1 | 4;
        }
        for (const d of result.diagnostics) process.stderr.write(formatCompileDiagnostic(d) + "\n");
        if (code !== Exit.OK) {
          ctx.out.progress(failed(result.diagnostics));
          return code as 1 | 4;
        }
        if (result.flows.length === 0) ctx.out.warn(`no exported flows found in ${paths.length ? paths.join(", ") : defaultFlowPaths().join(", ")}`);
        if (written) {
          for (const w of written.flows)
            ctx.out.line(`${relative(w.file)}  (${w.name} v${w.version}, export ${w.source.exportName} in ${relative(w.source.file)})`);
          if (written.taskDefs)
            ctx.out.line(`${relative(written.taskDefs)}  (${result.taskDefs.length} task definition${result.taskDefs.length === 1 ? "" : "s"})`);
        } else {
          for (const f of result.flows) ctx.out.line(`${f.name} v${f.version}: ok (export ${f.source.exportName} in ${relative(f.source.file)})`);
        }
        return Exit.OK;
      }),
    );
}
