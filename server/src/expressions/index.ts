// Conductor's `${...}` parameter resolution: JsonPath into the run's context
// (`workflow` and one entry per task reference), with Conductor's typing rules.
export type { Json } from "./json.js";
export { toJson } from "./json.js";
export { FilterDeferred, resolveParameters, resolveValue, type ResolveOptions } from "./resolve.js";
export { listExpressions, type ExpressionSite } from "./list.js";
export { compilePath, hasPathSteps, pathProblems, type CompiledPath, type ReadResult } from "./path.js";
