// System tasks with no nested steps: WAIT, HUMAN, EVENT, SET_VARIABLE, TERMINATE,
// NOOP, and worker tasks named without a taskType() declaration.
import { optionFields, type StepOptions } from "../options.js";
import { createStep, type Step } from "../step.js";
import type { Inputs, Value } from "../value.js";

export type WaitSpec = StepOptions & ({ duration: Value<string> } | { until: Value<string> } | { signal: true });

/** Waits for a duration ("10m", "2h 30m"), until a time ("2026-01-01 09:00 UTC"), or for a signal. */
export function wait(spec: WaitSpec): Step<Record<string, unknown>> {
  const inputParameters = "duration" in spec ? { duration: spec.duration } : "until" in spec ? { until: spec.until } : {};
  return createStep({
    ref: spec.ref,
    base: "wait",
    name: "wait",
    type: "WAIT",
    fields: { inputParameters, ...optionFields(spec) },
  });
}

export interface HumanSpec extends StepOptions {
  input?: Record<string, Value<unknown>>;
}

/** Waits for a person; its output is what they submit. */
export function human<O = Record<string, unknown>>(spec: HumanSpec = {}): Step<O> {
  return createStep<O>({
    ref: spec.ref,
    base: "human",
    name: "human",
    type: "HUMAN",
    fields: { inputParameters: spec.input ?? {}, ...optionFields(spec) },
  });
}

export interface EventSpec extends StepOptions {
  /** Where to publish, e.g. "conductor", "conductor:queue_name", "sqs:queue". */
  sink: string;
  input?: Record<string, Value<unknown>>;
}

export function event(spec: EventSpec): Step<Record<string, unknown>> {
  return createStep({
    ref: spec.ref,
    base: "event",
    name: "event",
    type: "EVENT",
    fields: { inputParameters: spec.input ?? {}, sink: spec.sink, ...optionFields(spec) },
  });
}

export function setVariables<V extends object>(values: Partial<Inputs<V>>, options?: StepOptions): Step<Record<string, never>> {
  return createStep({
    ref: options?.ref,
    base: "set_variable",
    name: "set_variable",
    type: "SET_VARIABLE",
    fields: { inputParameters: values, ...optionFields(options) },
  });
}

export interface TerminateSpec extends StepOptions {
  status: "COMPLETED" | "FAILED" | "TERMINATED";
  reason?: Value<string>;
  /** The workflow's output when it ends here. */
  output?: Record<string, Value<unknown>>;
}

export function terminate(spec: TerminateSpec): Step<{ output: Record<string, unknown> }> {
  return createStep({
    ref: spec.ref,
    base: "terminate",
    name: "terminate",
    type: "TERMINATE",
    fields: {
      inputParameters: { terminationStatus: spec.status, terminationReason: spec.reason, workflowOutput: spec.output },
      ...optionFields(spec),
    },
  });
}

export function noop(options?: StepOptions): Step<Record<string, never>> {
  return createStep({ ref: options?.ref, base: "noop", name: "noop", type: "NOOP", fields: optionFields(options) });
}

/**
 * A worker task named by string, without a taskType() declaration: its types are
 * the caller's word, and it needs a task definition on the server (BATON106).
 */
export function task<I extends object = Record<string, unknown>, O = Record<string, unknown>>(
  name: string,
  input: Inputs<I>,
  options?: StepOptions,
): Step<O, I> {
  return createStep<O, I>(
    { ref: options?.ref, base: name, name, type: "SIMPLE", fields: { inputParameters: input, ...optionFields(options) } },
    { undeclared: options?.taskDefinition === undefined },
  );
}
