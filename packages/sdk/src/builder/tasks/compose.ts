// Tasks that run other definitions: SUB_WORKFLOW, START_WORKFLOW, DYNAMIC.
import type { SubWorkflowParams } from "../../def.js";
import type { Flow } from "../flow.js";
import { optionFields, type StepOptions } from "../options.js";
import { createStep, type Step } from "../step.js";
import type { Inputs, Value } from "../value.js";

interface SubWorkflowSettings extends StepOptions {
  taskToDomain?: Record<string, string>;
  idempotencyKey?: string;
  idempotencyStrategy?: "RETURN_EXISTING" | "FAIL";
  priority?: number;
}

export interface SubFlowSpec<I extends object, O> extends SubWorkflowSettings {
  flow: Flow<I, O>;
  input: Inputs<I>;
  /** Embed the child's definition instead of naming its registered version. */
  inline?: boolean;
}

export interface NamedSubWorkflowSpec<I extends object> extends SubWorkflowSettings {
  /** A workflow registered on the server (e.g. defined in JSON or another repository). */
  name: string;
  version?: number;
  input: Inputs<I>;
}

export type SubWorkflowOutput<O> = O & { subWorkflowId: string };

export function subWorkflow<I extends object, O>(spec: SubFlowSpec<I, O>): Step<SubWorkflowOutput<O>, I>;
export function subWorkflow<I extends object = Record<string, unknown>, O = Record<string, unknown>>(
  spec: NamedSubWorkflowSpec<I>,
): Step<SubWorkflowOutput<O>, I>;
export function subWorkflow(spec: SubFlowSpec<object, unknown> | NamedSubWorkflowSpec<object>): Step<unknown> {
  const child = "flow" in spec ? spec.flow : undefined;
  const name = child ? child.name : (spec as NamedSubWorkflowSpec<object>).name;
  const version = child ? child.version : (spec as NamedSubWorkflowSpec<object>).version;
  const param: SubWorkflowParams = {
    name,
    version,
    taskToDomain: spec.taskToDomain,
    workflowDefinition: child && "inline" in spec && spec.inline ? child.toJSON() : undefined,
    idempotencyKey: spec.idempotencyKey,
    idempotencyStrategy: spec.idempotencyStrategy,
    priority: spec.priority,
  } as SubWorkflowParams;
  return createStep(
    {
      ref: spec.ref,
      base: name,
      name,
      type: "SUB_WORKFLOW",
      fields: { inputParameters: spec.input, subWorkflowParam: param, ...optionFields(spec) },
    },
    child && param.workflowDefinition ? { inlineTaskDefs: () => child.taskDefs() } : {},
  );
}

export interface StartWorkflowSpec<I extends object> extends StepOptions {
  flow: Flow<I, unknown> | { name: string; version?: number };
  input: Inputs<I>;
  correlationId?: Value<string>;
}

/** Starts another workflow and goes on at once; the output holds the new run's id. */
export function startWorkflow<I extends object>(spec: StartWorkflowSpec<I>): Step<{ workflowId: string }> {
  const { name, version } = spec.flow;
  return createStep({
    ref: spec.ref,
    base: "start_workflow",
    name: "start_workflow",
    type: "START_WORKFLOW",
    fields: {
      inputParameters: { startWorkflow: { name, version, input: spec.input, correlationId: spec.correlationId } },
      ...optionFields(spec),
    },
  });
}

export interface DynamicSpec<I extends object> extends StepOptions {
  /** The name of the task type to run, known only at run time. */
  taskName: Value<string>;
  input: Inputs<I>;
}

/** A task whose type is chosen at run time (DYNAMIC). */
export function dynamic<I extends object = Record<string, unknown>, O = Record<string, unknown>>(spec: DynamicSpec<I>): Step<O, I> {
  return createStep<O, I>({
    ref: spec.ref,
    base: "dynamic",
    name: "dynamic",
    type: "DYNAMIC",
    fields: {
      inputParameters: { taskToExecute: spec.taskName, ...spec.input },
      dynamicTaskNameParam: "taskToExecute",
      ...optionFields(spec),
    },
  });
}
