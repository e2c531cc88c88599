// Type tests for flow composition, switch cases, variables and outputs.
import { taskType, workflow, type Flow, type Ref } from "../../src/index.js";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T extends true>(_: T): void => undefined;

const encode = taskType<{ src: string; format: string }, { url: string; bytes: number }>("encode");
const notify = taskType<{ message: string }, { delivered: boolean }>("notify");

const child = workflow("child")
  .input<{ src: string }>()
  .steps((wf) => {
    const e = encode.step({ src: wf.input.src, format: "mp4" });
    return { url: e.output.url, bytes: e.output.bytes, fixed: "yes" };
  });
expectType<Equal<typeof child, Flow<{ src: string }, { url: string; bytes: number; fixed: string }>>>(true);

const nothing = workflow("nothing").steps(() => undefined);
expectType<Equal<typeof nothing, Flow<Record<string, never>, Record<string, never>>>>(true);

workflow("parent")
  .input<{ src: string; format: "mp4" | "webm"; attempts: number }>()
  .variables<{ stage: string; tries: number }>({ stage: "start" })
  .steps((wf) => {
    const sub = wf.subWorkflow({ flow: child, input: { src: wf.input.src } });
    expectType<Equal<typeof sub.output.url, Ref<string>>>(true);
    notify.step({ message: sub.output.url });
    notify.step({ message: sub.output.subWorkflowId });
    // @ts-expect-error the child flow's output has no such field
    notify.step({ message: sub.output.missing });
    // @ts-expect-error the child flow's input is { src: string }
    wf.subWorkflow({ flow: child, input: { source: wf.input.src } });

    wf.switch({ value: wf.input.format, cases: { mp4: [notify.step({ message: "mp4" })], webm: () => notify.step({ message: "webm" }) } });
    // @ts-expect-error a case the switch value can never take
    wf.switch({ value: wf.input.format, cases: { mkv: [notify.step({ message: "mkv" })] } });

    wf.setVariables({ stage: "encoded", tries: wf.input.attempts });
    // @ts-expect-error a variable of the wrong type
    wf.setVariables({ stage: wf.input.attempts });
    // @ts-expect-error a variable that is not declared
    wf.setVariables({ unknown: "x" });

    const fan = wf.dynamicFork({ task: encode, inputs: [{ src: wf.input.src, format: "mp4" }] });
    const oneEncode = fan.join.output["encode_0"]!;
    expectType<Equal<typeof oneEncode.bytes, Ref<number>>>(true);
    // @ts-expect-error dynamic fork inputs must match the task type's input
    wf.dynamicFork({ task: encode, inputs: [{ src: wf.input.src }] });

    const script = wf.inline<{ total: number }>({ script: "({ total: $.a + 1 })", inputs: { a: wf.input.attempts } });
    expectType<Equal<typeof script.output.result.total, Ref<number>>>(true);
    // @ts-expect-error TERMINATE takes only the three statuses
    wf.terminate({ status: "DONE" });
  });
