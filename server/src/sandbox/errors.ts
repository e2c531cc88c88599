// Why a script or a jq filter failed, as one of a few kinds the engine can act on.

export type ScriptErrorKind = "timeout" | "memory" | "syntax" | "runtime" | "result";

/** A script that did not give a JSON value: it timed out, ran out of memory, did not parse, threw, or returned something JSON cannot hold. */
export class ScriptError extends Error {
  override readonly name = "ScriptError";
  constructor(
    readonly kind: ScriptErrorKind,
    message: string,
  ) {
    super(message);
  }
}
