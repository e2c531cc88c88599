// The typed flow builder: task types, flows, refs, and their diagnostics.
export { DIAGNOSTIC_CODES, formatDiagnostic, type Diagnostic, type DiagnosticCode } from "./diagnostics.js";
export type { SourceLocation } from "./location.js";
export { FlowContext } from "./context.js";
export { compile, Flow, FlowBuilder, workflow, type FlowOutput, type FlowSettings } from "./flow.js";
export type { FlowValidationOptions } from "./analysis/validate-flow.js";
export type { StepOptions } from "./options.js";
export { expr, expressionOf, isRef, type Ref, type RefOf } from "./ref.js";
export { Step, type AnyStep, type StepList } from "./step.js";
export { TaskStub, taskType, type TaskSettings } from "./task-type.js";
export type { SubFlowSpec, NamedSubWorkflowSpec, StartWorkflowSpec, DynamicSpec, SubWorkflowOutput } from "./tasks/compose.js";
export type { Fork, ForkSpec, ForEachSpec, DynamicTasksSpec, JoinOptions } from "./tasks/fork.js";
export type { LoopSpec, LoopOutput } from "./tasks/loop.js";
export type { HttpSpec, HttpOutput, ScriptSpec, InlineSpec, JqSpec } from "./tasks/scripts.js";
export type { CaseKey, SwitchOnValue, SwitchOnScript, SwitchOutput, DecisionSpec, ExclusiveJoinSpec } from "./tasks/switch.js";
export type { WaitSpec, HumanSpec, EventSpec, TerminateSpec } from "./tasks/system.js";
export type { Inputs, Resolved, Value } from "./value.js";
