// Sandboxed user code from definitions: JavaScript (QuickJS) and jq.
export { ScriptError, type ScriptErrorKind } from "./errors.js";
export { createScriptEngine, DEFAULT_SCRIPT_LIMITS, type ScriptEngine, type ScriptLimits } from "./sandbox.js";
export { lambdaSource, scriptTruth } from "./conductor.js";
export { createJq, DEFAULT_JQ_LIMITS, JqError, type Jq, type JqErrorKind, type JqLimits } from "./jq.js";
