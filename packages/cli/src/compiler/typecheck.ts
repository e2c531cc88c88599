// Static half of `baton compile`: type-check the user's files with the
// compiler (their tsconfig when there is one) and find the exported flows by
// TYPE: an export whose type is @baton/sdk's Flow class, however it is named,
// aliased or re-exported.
import { existsSync } from "node:fs";
import path from "node:path";
import { Node, Project, ts, type Diagnostic, type SourceFile, type Type } from "ts-morph";
import type { CompileDiagnostic } from "./diagnostic.js";
import { SDK_PACKAGE, packageOf } from "./packages.js";

export interface FlowExport {
  /** The module to import (the user's file that exports it). */
  file: string;
  exportName: string;
  /** Where the flow is declared. */
  declaredAt: { file: string; line: number; column: number };
  /** A schedule (schedule(...)) rather than a flow. */
  schedule?: boolean;
}

export interface TypecheckResult {
  diagnostics: CompileDiagnostic[];
  exports: FlowExport[];
  tsconfig: string | undefined;
}

// Options that would make a check-only program report errors about emit or
// project layout (rootDir, composite file lists) rather than about the code.
const CHECK_ONLY: ts.CompilerOptions = {
  noEmit: true,
  composite: false,
  declaration: false,
  declarationMap: false,
  emitDeclarationOnly: false,
  incremental: false,
  skipLibCheck: true,
};

const DEFAULTS: ts.CompilerOptions = {
  target: ts.ScriptTarget.ES2022,
  module: ts.ModuleKind.ESNext,
  moduleResolution: ts.ModuleResolutionKind.Bundler,
  strict: true,
  allowImportingTsExtensions: true,
  esModuleInterop: true,
};

export function findTsconfig(files: string[]): string | undefined {
  const first = files[0];
  if (!first) return undefined;
  return ts.findConfigFile(path.dirname(first), (f) => existsSync(f), "tsconfig.json");
}

/** True when `type` is (an instance of) the SDK's Flow class (or, given "Schedule", its Schedule class). */
export function isFlowType(type: Type, className: "Flow" | "Schedule" = "Flow"): boolean {
  const symbol = type.getSymbol() ?? type.getAliasSymbol();
  if (!symbol || symbol.getName() !== className) return false;
  return symbol.getDeclarations().some((d) => Node.isClassDeclaration(d) && packageOf(d.getSourceFile().getFilePath()) === SDK_PACKAGE);
}

function toDiagnostic(d: Diagnostic): CompileDiagnostic {
  const sf = d.getSourceFile();
  const start = d.getStart();
  const where = sf && start !== undefined ? sf.getLineAndColumnAtPos(start) : undefined;
  const category = d.getCategory();
  return {
    severity: category === ts.DiagnosticCategory.Error ? "error" : "warning",
    code: `TS${d.getCode()}`,
    message: ts.flattenDiagnosticMessageText(d.compilerObject.messageText, "\n  "),
    ...(sf ? { file: sf.getFilePath() } : {}),
    ...(where ? { line: where.line, column: where.column } : {}),
  };
}

function inNodeModules(sf: SourceFile): boolean {
  return sf.isInNodeModules() || sf.isDeclarationFile();
}

export function typecheck(files: string[]): TypecheckResult {
  const tsconfig = findTsconfig(files);
  const project = tsconfig
    ? new Project({ tsConfigFilePath: tsconfig, skipAddingFilesFromTsConfig: true, compilerOptions: CHECK_ONLY })
    : new Project({ compilerOptions: { ...DEFAULTS, ...CHECK_ONLY } });
  const sources = files.map((f) => project.addSourceFileAtPath(f));
  project.resolveSourceFileDependencies();

  // Errors in the user's code (the given files and the local files they import), not in libraries or options.
  const program = project.getProgram();
  const diagnostics: CompileDiagnostic[] = [];
  for (const sf of project.getSourceFiles()) {
    if (inNodeModules(sf)) continue;
    for (const d of [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)]) {
      if (d.getCategory() === ts.DiagnosticCategory.Error || d.getCategory() === ts.DiagnosticCategory.Warning) diagnostics.push(toDiagnostic(d));
    }
  }

  const exports: FlowExport[] = [];
  const seen = new Set<Node>();
  for (const sf of sources) {
    for (const [exportName, decls] of sf.getExportedDeclarations()) {
      for (const decl of decls) {
        const schedule = !isFlowType(decl.getType()) && isFlowType(decl.getType(), "Schedule");
        if (seen.has(decl) || (!schedule && !isFlowType(decl.getType()))) continue;
        seen.add(decl);
        const declFile = decl.getSourceFile();
        const at = declFile.getLineAndColumnAtPos(decl.getStart());
        exports.push({
          file: sf.getFilePath(),
          exportName,
          declaredAt: { file: declFile.getFilePath(), line: at.line, column: at.column },
          ...(schedule ? { schedule } : {}),
        });
      }
    }
  }
  return { diagnostics, exports, tsconfig };
}
