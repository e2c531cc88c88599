// How large a run's variables may grow (SET_VARIABLE, a loop's bookkeeping):
// beyond this a change is refused and the task fails, as in Conductor.
import { stringifyJson, type JsonObject } from "@baton/json";

export const MAX_VARIABLES_BYTES = 256 * 1024;

/** Why `variables` may not be kept (over `limit` bytes of JSON), or undefined when they may. */
export function variablesOverLimit(variables: JsonObject, limit = MAX_VARIABLES_BYTES): string | undefined {
  const size = Buffer.byteLength(stringifyJson(variables));
  return size > limit ? `variables would be ${size} bytes; the limit is ${limit} bytes` : undefined;
}
