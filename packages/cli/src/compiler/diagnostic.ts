// One diagnostic shape for TypeScript's errors, the builder's (BATON1xx) and
// the CLI's own, printed the way compilers print: `file:line:col - error CODE: message`.
import path from "node:path";

export interface CompileDiagnostic {
  severity: "error" | "warning";
  /** TS2322, BATON101, ... */
  code: string;
  message: string;
  file?: string;
  line?: number;
  column?: number;
  /** JSON pointer into the compiled WorkflowDef, for the builder's diagnostics. */
  path?: string;
  /** The flow it belongs to. */
  flow?: string;
}

export function formatCompileDiagnostic(d: CompileDiagnostic, cwd = process.cwd()): string {
  const where = d.file ? `${relative(d.file, cwd)}${d.line !== undefined ? `:${d.line}:${d.column ?? 1}` : ""} - ` : "";
  return `${where}${d.severity} ${d.code}: ${d.message}`;
}

export function relative(file: string, cwd = process.cwd()): string {
  const rel = path.relative(cwd, file);
  return rel && !rel.startsWith("..") && !path.isAbsolute(rel) ? rel : file;
}

export const hasErrors = (list: CompileDiagnostic[]): boolean => list.some((d) => d.severity === "error");
