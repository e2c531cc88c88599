// The pure computations system tasks need: a sandboxed JavaScript engine and jq.
import type { SystemTaskServices } from "../engine/system-tasks.js";
import { createScriptEngine } from "../scripts/index.js";
import { createJq } from "../scripts/jq.js";

export async function createSystemTaskServices(): Promise<SystemTaskServices> {
  const [scripts, jq] = await Promise.all([createScriptEngine({ timeoutMs: 1000, memoryBytes: 32 * 1024 * 1024 }), createJq()]);
  return {
    evaluateScript: (source, bindings) => scripts.evaluate(source, bindings),
    jq: (filter, input) => jq.transform(filter, input),
    maxVariablesBytes: 256 * 1024,
  };
}
