// SWITCH, DECISION and EXCLUSIVE_JOIN: choose one list of steps by a value or a script.
import { optionFields, type StepOptions } from "../options.js";
import type { Ref } from "../ref.js";
import { claim, createStep, nodeOf, type AnyStep, type Step, type StepList, type StepNode } from "../step.js";
import type { Value } from "../value.js";

type CaseValue = string | number | boolean;
/** Case keys a value can take: its literal members when it has them, else any string. */
export type CaseKey<V extends CaseValue> = V extends string ? V : `${V}`;

export interface SwitchOnValue<V extends CaseValue> extends StepOptions {
  /** The value whose string form picks the case (evaluatorType value-param). */
  value: Ref<V> | V;
  cases: { readonly [K in CaseKey<V>]?: StepList };
  default?: StepList;
}

export interface SwitchOnScript<C extends string> extends StepOptions {
  /** JavaScript whose result picks the case; reads `$.<input>` for each input. */
  script: string;
  inputs?: Record<string, Value<unknown>>;
  evaluator?: "javascript" | "graaljs";
  cases: { readonly [K in C]: StepList };
  default?: StepList;
}

export interface SwitchOutput {
  evaluationResult: string[];
  selectedCase: string;
}

function claimCases(cases: Record<string, StepList | undefined>): [string, StepNode[]][] {
  const out: [string, StepNode[]][] = [];
  for (const [key, list] of Object.entries(cases)) if (list !== undefined) out.push([key, claim(list)]);
  return out;
}

export function switchStep<V extends CaseValue>(spec: SwitchOnValue<V>): Step<SwitchOutput>;
export function switchStep<C extends string>(spec: SwitchOnScript<C>): Step<SwitchOutput>;
export function switchStep(spec: SwitchOnValue<CaseValue> | SwitchOnScript<string>): Step<SwitchOutput> {
  const decisionCases = claimCases(spec.cases as Record<string, StepList | undefined>);
  const defaultCase = spec.default === undefined ? undefined : claim(spec.default);
  const byScript = "script" in spec;
  return createStep<SwitchOutput>(
    {
      ref: spec.ref,
      base: "switch",
      name: "switch",
      type: "SWITCH",
      fields: {
        inputParameters: byScript ? (spec.inputs ?? {}) : { switchCaseValue: spec.value },
        evaluatorType: byScript ? (spec.evaluator ?? "javascript") : "value-param",
        expression: byScript ? spec.script : "switchCaseValue",
        ...optionFields(spec),
      },
    },
    { decisionCases, ...(defaultCase ? { defaultCase } : {}) },
  );
}

export interface DecisionSpec<V extends CaseValue> extends StepOptions {
  /** The value that picks the case (caseValueParam). */
  value: Ref<V> | V;
  cases: { readonly [K in CaseKey<V>]?: StepList };
  default?: StepList;
}

/** Conductor's older DECISION task; prefer switch. */
export function decision<V extends CaseValue>(spec: DecisionSpec<V>): Step<{ caseOutput: string[] }> {
  const decisionCases = claimCases(spec.cases as Record<string, StepList | undefined>);
  const defaultCase = spec.default === undefined ? undefined : claim(spec.default);
  return createStep(
    {
      ref: spec.ref,
      base: "decision",
      name: "decision",
      type: "DECISION",
      fields: { inputParameters: { case: spec.value }, caseValueParam: "case", ...optionFields(spec) },
    },
    { decisionCases, ...(defaultCase ? { defaultCase } : {}) },
  );
}

export interface ExclusiveJoinSpec extends StepOptions {
  /** The case tails to wait on; the first one to complete wins. */
  on: readonly AnyStep[];
  /** Steps whose output is used when no case ran. */
  default?: readonly AnyStep[];
}

export function exclusiveJoin(spec: ExclusiveJoinSpec): Step<Record<string, unknown>> {
  return createStep({
    ref: spec.ref,
    base: "exclusive_join",
    name: "exclusive_join",
    type: "EXCLUSIVE_JOIN",
    fields: {
      joinOn: spec.on.map((s) => nodeOf(s).ref),
      defaultExclusiveJoinTask: spec.default?.map((s) => nodeOf(s).ref),
      ...optionFields(spec),
    },
  });
}
