// Task types declared once, with typed input and output and their TaskDef settings,
// then used as steps in any flow. The worker may be written in any language: the
// declaration is a typed stub, like Temporal's proxyActivities<T>().
import type { TaskDef } from "../def.js";
import { ordered, TASK_DEF_KEYS } from "./key-order.js";
import { optionFields, type StepOptions } from "./options.js";
import { createStep, type Step } from "./step.js";
import type { Inputs } from "./value.js";

/** TaskDef settings: everything but the name. */
export type TaskSettings = Omit<TaskDef, "name">;

const TASK_TYPE_BRAND = Symbol.for("baton.taskType");

export class TaskStub<I extends object = Record<string, unknown>, O = unknown> {
  readonly [TASK_TYPE_BRAND] = true;
  readonly name: string;
  /** The TaskDef to register for this type. */
  readonly def: TaskDef;
  declare readonly types?: { input: I; output: O };

  constructor(name: string, settings: TaskSettings = {}) {
    this.name = name;
    this.def = ordered({ name, ...settings }, TASK_DEF_KEYS);
  }

  static is(value: unknown): value is TaskStub {
    return typeof value === "object" && value !== null && (value as Record<symbol, unknown>)[TASK_TYPE_BRAND] === true;
  }

  /** A step of this type: `encode.step("encode_mp4", { src, format: "mp4" })`, or without a ref to derive one. */
  step<const A extends string | Inputs<I>>(
    first: A,
    ...rest: A extends string ? [input: Inputs<I>, options?: Omit<StepOptions, "ref">] : [options?: StepOptions]
  ): Step<O, I> {
    const [a, b, c] = [first, ...rest] as unknown as [string | Inputs<I>, unknown, StepOptions | undefined];
    const [ref, input, options] = typeof a === "string" ? [a, b as Inputs<I>, c] : [undefined, a, b as StepOptions | undefined];
    return createStep<O, I>(
      {
        ref: ref ?? options?.ref,
        base: this.name,
        name: this.name,
        type: "SIMPLE",
        fields: { inputParameters: input, ...optionFields(options) },
      },
      { taskDef: this.def },
    );
  }
}

/** Declares a worker task type: `taskType<{ src: string }, { url: string }>("encode", { retryCount: 3 })`. */
export function taskType<I extends object = Record<string, unknown>, O = unknown>(name: string, settings?: TaskSettings): TaskStub<I, O> {
  return new TaskStub<I, O>(name, settings);
}
