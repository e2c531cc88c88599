// Flows: a fluent builder that collects a WorkflowDef's settings and runs the body
// once, and the Flow it returns, which compiles to Conductor JSON.
import type { JsonObject, Rollout, TaskDef, WorkflowDef } from "../def.js";
import { compileFlow, type FlowState } from "./compile-flow.js";
import { FlowContext } from "./context.js";
import { errorAt, type Diagnostic } from "./diagnostics.js";
import { callerLocation, locationInStack } from "./location.js";
import { collect, type BuildState } from "./step.js";
import { validateFlow, type FlowValidationOptions } from "./analysis/validate-flow.js";
import type { Resolved } from "./value.js";

/** Every WorkflowDef field that is not the name, the tasks, or typed by the builder. */
export interface FlowSettings {
  description?: string;
  version?: number;
  timeoutSeconds?: number;
  timeoutPolicy?: "TIME_OUT_WF" | "ALERT_ONLY";
  /** The flow to start when this one fails: a Flow, or a registered workflow's name. */
  failureWorkflow?: string | Flow<any, any>;
  failureWorkflowVersion?: number;
  restartable?: boolean;
  workflowStatusListenerEnabled?: boolean;
  workflowStatusListenerSink?: string;
  ownerEmail?: string;
  ownerApp?: string;
  inputSchema?: JsonObject;
  outputSchema?: JsonObject;
  enforceSchema?: boolean;
  /** Running runs per key value (`rateLimitKey` an expression over the start, or a constant); over it: `strategy` (default QUEUE). */
  rateLimitConfig?: { rateLimitKey?: string; concurrentExecLimit?: number; strategy?: "QUEUE" | "CANCEL_NEWEST" | "CANCEL_OLDEST" };
  metadata?: JsonObject;
  maskedFields?: string[];
  /** Baton: `${workflow.input.<path>}` or `${workflow.correlationId}`: tasks are claimed round-robin across its values. */
  fairnessKey?: string;
  /** Baton: weight of a fairnessKey value (unlisted: 1). */
  fairnessWeights?: Record<string, number>;
  /** Baton: ended runs are removed this many seconds after they end (overrides the server's default; at least 3600). */
  retentionSeconds?: number;
  /** How `baton publish` rolls a changed version out (a canary share, sticky key, guard); not part of the definition. */
  rollout?: Rollout;
}

/** The keys of T that are not optional. */
export type RequiredKeys<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? never : K }[keyof T] & string;

/** What a body's return value becomes: the flow's typed output. */
export type FlowOutput<R> = [R] extends [void | undefined] ? Record<string, never> : Resolved<R>;

const FLOW_BRAND = Symbol.for("baton.flow");

export class Flow<I = unknown, O = unknown> {
  readonly [FLOW_BRAND] = true;
  readonly name: string;
  readonly version: number;
  declare readonly types?: { input: I; output: O };
  readonly #state: FlowState;

  /** Made by workflow(...).steps(...). */
  constructor(state: FlowState) {
    this.#state = state;
    this.name = state.name;
    this.version = state.settings.version ?? 1;
  }

  /** True for any Flow, also one made by another copy of this package. */
  static is(value: unknown): value is Flow {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[FLOW_BRAND] === true;
  }

  /** The Conductor WorkflowDef (schemaVersion 2); the same flow always gives the same JSON. */
  toJSON(): WorkflowDef {
    return compileFlow(this.#state).def;
  }

  /** The TaskDefs of the task types this flow uses (declared with taskType()), by name. */
  taskDefs(): TaskDef[] {
    return compileFlow(this.#state).taskDefs;
  }

  /** Every problem found, with its code and the builder call it comes from. Never throws. */
  validate(options?: FlowValidationOptions): Diagnostic[] {
    return validateFlow(this.#state, compileFlow(this.#state), options);
  }
}

export class FlowBuilder<I = Record<string, never>, V = Record<string, never>> {
  readonly #name: string;
  readonly #settings: FlowSettings;
  readonly #inputNames: readonly string[] | undefined;
  readonly #inputTemplate: unknown;
  readonly #variables: unknown;

  constructor(name: string, settings: FlowSettings, inputNames?: readonly string[], inputTemplate?: unknown, variables?: unknown) {
    this.#name = name;
    this.#settings = settings;
    this.#inputNames = inputNames;
    this.#inputTemplate = inputTemplate;
    this.#variables = variables;
  }

  /**
   * Declares the input type. The names, if given, are the required inputs: they
   * become the WorkflowDef's inputParameters and its inputSchema's `required`
   * (enforced: a start without one of them is refused). Only keys the type
   * requires may be named; list them all.
   */
  input<I2 extends object>(...names: RequiredKeys<I2>[]): FlowBuilder<I2, V> {
    return new FlowBuilder<I2, V>(this.#name, this.#settings, names.length ? names : undefined, this.#inputTemplate, this.#variables);
  }

  /** Default input values (Conductor's inputTemplate). */
  inputTemplate(template: Partial<I>): FlowBuilder<I, V> {
    return new FlowBuilder<I, V>(this.#name, this.#settings, this.#inputNames, template, this.#variables);
  }

  /** Declares the variables' type and their initial values. */
  variables<V2 extends object>(initial?: Partial<V2>): FlowBuilder<I, V2> {
    return new FlowBuilder<I, V2>(this.#name, this.#settings, this.#inputNames, this.#inputTemplate, initial);
  }

  /** Adds or overrides WorkflowDef settings. */
  settings(settings: FlowSettings): FlowBuilder<I, V> {
    return new FlowBuilder<I, V>(this.#name, { ...this.#settings, ...settings }, this.#inputNames, this.#inputTemplate, this.#variables);
  }

  /**
   * Runs the body once to declare the steps, in order. What it returns (an object
   * of refs and literals) becomes the typed output (outputParameters).
   */
  steps<R extends object | void>(body: (wf: FlowContext<I, V>) => R): Flow<I, FlowOutput<R>> {
    const build: BuildState = { usedRefs: new Set(), diagnostics: [] };
    const location = callerLocation();
    let root: FlowState["root"] = [];
    let output: unknown;
    try {
      const collected = collect(build, () => body(new FlowContext<I, V>()));
      root = collected.items;
      output = collected.result;
    } catch (err) {
      const stack = err instanceof Error ? (err.stack ?? "") : "";
      const message = `the flow body threw: ${err instanceof Error ? err.message : String(err)}`;
      build.diagnostics.push(errorAt("BATON108", message, "", locationInStack(stack) ?? location));
    }
    if (output instanceof Promise) {
      const message = "the flow body must be synchronous: it declares steps, it does not run them";
      build.diagnostics.push(errorAt("BATON108", message, "", location));
      output = undefined;
    }
    return new Flow<I, FlowOutput<R>>({
      name: this.#name,
      settings: this.#settings,
      inputNames: this.#inputNames,
      inputTemplate: this.#inputTemplate,
      variables: this.#variables,
      root,
      output,
      build,
      location,
    });
  }
}

/** Starts a flow: `workflow("encode", { version: 2 }).input<{ src: string }>().steps((wf) => ...)`. */
export function workflow(name: string, settings: FlowSettings = {}): FlowBuilder {
  return new FlowBuilder(name, settings);
}

/** The WorkflowDef of a flow (the same as flow.toJSON()). */
export function compile(flow: Flow<unknown, unknown>): WorkflowDef {
  return flow.toJSON();
}
