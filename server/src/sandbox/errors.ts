// Why a script or a jq filter failed, as one of a few kinds the engine can act on.
import { NOTE_CHARS, shortened } from "@baton/json";

export type ScriptErrorKind = "timeout" | "memory" | "syntax" | "runtime" | "result";

/** A script that did not give a JSON value: it timed out, ran out of memory, did not parse, threw, or returned something JSON cannot hold. */
export class ScriptError extends Error {
  override readonly name = "ScriptError";
  constructor(
    readonly kind: ScriptErrorKind,
    message: string,
  ) {
    super(shortened(message, NOTE_CHARS)); // a script or jq may throw a megabyte of text, which becomes a task's reason
  }
}
