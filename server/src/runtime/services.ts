// The pure computations system tasks need: a sandboxed JavaScript engine and jq.
import type { SystemTaskServices } from "../engine/system-tasks.js";
import { createScriptEngine } from "../scripts/index.js";

export async function createSystemTaskServices(): Promise<SystemTaskServices> {
  const scripts = await createScriptEngine({ timeoutMs: 1000, memoryBytes: 32 * 1024 * 1024 });
  return {
    evaluateScript: (source, bindings) => scripts.evaluate(source, bindings),
    jq: () => {
      throw new Error("jq is not available yet");
    },
    maxVariablesBytes: 256 * 1024,
  };
}
