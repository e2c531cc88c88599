// @baton/cli as a library: the program, and the pieces other tools may reuse.
export { buildProgram, run, VERSION } from "./program.js";
export { Exit, type ExitCode } from "./cli/exit.js";
export { compileFlows, formatCompileDiagnostic, type CompileDiagnostic, type CompileResult, type EvaluatedFlow } from "./compiler/index.js";
export { toMermaid, type RunOverlay } from "./graph/mermaid.js";
export { unifiedDiff } from "./defs/diff.js";
