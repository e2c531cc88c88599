// The pure computations system tasks need: a sandboxed JavaScript engine and jq.
import type { SystemTaskServices } from "../engine/system-tasks.js";

export async function createSystemTaskServices(): Promise<SystemTaskServices> {
  return {
    evaluateScript: () => {
      throw new Error("the script sandbox is not available yet");
    },
    jq: () => {
      throw new Error("jq is not available yet");
    },
    maxVariablesBytes: 256 * 1024,
  };
}
