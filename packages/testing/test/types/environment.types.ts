// Type tests: mocks, calls and runs take their types from the task types and
// flows. Every `@ts-expect-error` line must be an error; the rest must compile.
import { taskType, workflow } from "@baton/sdk";
import { TestEnvironment, inProgress, type MockCall, type TestRun } from "../../src/index.js";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T extends true>(_: T): void => undefined;

const encode = taskType<{ src: string; format: string }, { url: string; bytes: number }>("encode");
const untyped = taskType("untyped");

const flow = workflow("f")
  .input<{ src: string; formats: string[] }>("src", "formats")
  .steps((wf) => {
    const e = encode.step("e", { src: wf.input.src, format: "webp" });
    return { url: e.output.url, size: e.output.bytes };
  });

export async function checks(env: TestEnvironment): Promise<void> {
  env.mock(encode, async (input) => {
    expectType<Equal<typeof input, { src: string; format: string }>>(true);
    return { url: `cdn://${input.format}`, bytes: 1 };
  });
  env.mock(encode, (input) => ({ url: input.src, bytes: input.src.length }));
  env.mock(encode, () => inProgress(30));
  // @ts-expect-error the output lacks `bytes`
  env.mock(encode, async (input) => ({ url: `cdn://${input.format}` }));
  // @ts-expect-error `bytes` is a number
  env.mock(encode, () => ({ url: "u", bytes: "1" }));
  // @ts-expect-error the input has no `width`
  env.mock(encode, (input) => ({ url: String(input.width), bytes: 1 }));

  env.mock(untyped, (input) => ({ anything: input["whatever"] }));
  env.mock("by_name", (input) => {
    expectType<Equal<typeof input, Record<string, unknown>>>(true);
    return {};
  });
  env.mock<{ n: number }, { doubled: number }>("by_name", ({ n }) => ({ doubled: n * 2 }));

  const calls = env.calls(encode);
  expectType<Equal<typeof calls, MockCall<{ src: string; format: string }, { url: string; bytes: number }>[]>>(true);
  expectType<Equal<ReturnType<typeof env.calls<{ a: 1 }, 2>>, MockCall<{ a: 1 }, 2>[]>>(true);

  const run = await env.execute(flow, { src: "s3://in.png", formats: ["webp"] });
  expectType<Equal<typeof run, TestRun<{ url: string; size: number }>>>(true);
  expectType<Equal<typeof run.output.url, string>>(true);
  // @ts-expect-error the flow's output has no `width`
  void run.output.width;
  // @ts-expect-error the flow's input needs `formats`
  await env.execute(flow, { src: "s3://in.png" });
  // @ts-expect-error `formats` is a list of strings
  await env.start(flow, { src: "s3://in.png", formats: "webp" });

  const byName = await env.execute("registered_elsewhere", { any: "input" });
  expectType<Equal<typeof byName.output, Record<string, unknown>>>(true);

  await env.advance("3d");
  await env.advance(60_000);
  await env.signal(run.workflowId, "approve", { approved: true });
}
