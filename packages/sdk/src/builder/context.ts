// The `wf` handed to a flow body: typed refs to the workflow's input and
// variables, and one method per Conductor task type.
import type { StepOptions } from "./options.js";
import { refAt, type Ref } from "./ref.js";
import { place, type AnyStep, type Step } from "./step.js";
import { dynamic, startWorkflow, subWorkflow } from "./tasks/compose.js";
import { dynamicFork, fork } from "./tasks/fork.js";
import { loop } from "./tasks/loop.js";
import { http, inline, jq, lambda } from "./tasks/scripts.js";
import { decision, exclusiveJoin, switchStep } from "./tasks/switch.js";
import { event, human, noop, setVariables, task, terminate, wait } from "./tasks/system.js";
import type { Inputs } from "./value.js";

export class FlowContext<I = unknown, V = unknown> {
  /** `${workflow.input}`, typed as the flow's input. */
  readonly input: Ref<I> = refAt<I>("workflow.input");
  /** `${workflow.variables}`, typed as the flow's variables. */
  readonly variables: Ref<V> = refAt<V>("workflow.variables");
  readonly workflowId: Ref<string> = refAt<string>("workflow.workflowId");
  readonly correlationId: Ref<string> = refAt<string>("workflow.correlationId");

  readonly task = task;
  readonly switch = switchStep;
  readonly decision = decision;
  readonly exclusiveJoin = exclusiveJoin;
  readonly fork = fork;
  readonly dynamicFork = dynamicFork;
  readonly loop = loop;
  readonly subWorkflow = subWorkflow;
  readonly startWorkflow = startWorkflow;
  readonly dynamic = dynamic;
  readonly wait = wait;
  readonly human = human;
  readonly event = event;
  readonly http = http;
  readonly inline = inline;
  readonly lambda = lambda;
  readonly jq = jq;
  readonly terminate = terminate;
  readonly noop = noop;

  /** SET_VARIABLE, typed by the flow's variables. */
  setVariables(values: Partial<Inputs<V>>, options?: StepOptions): Step<Record<string, never>> {
    return setVariables<V & object>(values as Partial<Inputs<V & object>>, options);
  }

  /** Appends steps made outside the body (shared fragments) at this point of the flow. */
  add(...steps: AnyStep[]): void {
    place(steps);
  }
}
