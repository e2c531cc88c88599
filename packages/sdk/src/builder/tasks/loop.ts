// DO_WHILE: run a body until a condition is false, or once per item of a list.
import { optionFields, type StepOptions } from "../options.js";
import { claim, createNode, Step, type StepList } from "../step.js";
import type { Value } from "../value.js";

export interface LoopSpec extends StepOptions {
  body: StepList;
  /**
   * JavaScript evaluated after each iteration; the loop goes on while it is true.
   * It reads `$.<ref>['field']` for the outputs of the body's steps, and
   * `$.<loopRef>['iteration']`; give a function to get the loop's own ref.
   */
  condition?: string | ((loopRef: string) => string);
  /** Shorthand for a condition that runs the body this many times. */
  times?: number;
  /** Iterate over a list (Conductor reads inputParameters.items); no condition needed. */
  items?: Value<readonly unknown[]>;
  /** Inputs the condition reads as `$.<name>`. */
  inputs?: Record<string, Value<unknown>>;
}

export interface LoopOutput {
  iteration: number;
  [iterationOrField: string]: unknown;
}

function conditionFor(spec: LoopSpec, ref: string): string | undefined {
  if (typeof spec.condition === "function") return spec.condition(ref);
  if (spec.condition !== undefined) return spec.condition;
  if (spec.times !== undefined) return `if ($.${ref}['iteration'] < ${spec.times}) { true; } else { false; }`;
  return undefined;
}

export function loop(spec: LoopSpec): Step<LoopOutput> {
  const body = claim(spec.body);
  const inputs = spec.items === undefined ? spec.inputs : { ...spec.inputs, items: spec.items };
  const node = createNode(
    { ref: spec.ref, base: "loop", name: "do_while", type: "DO_WHILE", fields: { inputParameters: inputs, ...optionFields(spec) } },
    { loopOver: body },
  );
  // The condition may name the loop itself, so it is known only once the ref is.
  node.fields["loopCondition"] = conditionFor(spec, node.ref);
  return new Step<LoopOutput>(node);
}
