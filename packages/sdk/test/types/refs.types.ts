// Type tests: every `@ts-expect-error` line must fail to compile (tsc reports an
// unused directive otherwise), and every other line must compile.
import { expr, taskType, workflow, type Ref } from "../../src/index.js";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T extends true>(_: T): void => undefined;

const ingest = taskType<{ src: string }, { url: string; size: { width: number; height: number }; tags: string[] }>("ingest");
const encode = taskType<{ src: string; format: string; quality?: number }, { url: string }>("encode", { retryCount: 3 });

workflow("refs")
  .input<{ src: string; count: number; formats: ("mp4" | "webm")[] }>()
  .steps((wf) => {
    const image = ingest.step("ingest", { src: wf.input.src });

    // Nested output paths are typed against the declared output.
    expectType<Equal<typeof image.output.url, Ref<string>>>(true);
    expectType<Equal<typeof image.output.size.width, Ref<number>>>(true);
    expectType<Equal<(typeof image.output.tags)[0], Ref<string>>>(true);
    expectType<Equal<typeof wf.input.count, Ref<number>>>(true);

    encode.step("ok", { src: image.output.url, format: "mp4" });
    encode.step("ok_quality", { src: image.output.url, format: "mp4", quality: image.output.size.width });
    // Index access may be out of range (noUncheckedIndexedAccess), so it needs `!`.
    encode.step({ src: wf.input.src, format: wf.input.formats[0]! });
    encode.step("ok_template", { src: `${image.output.url}?v=2`, format: "mp4" });
    encode.step("ok_expr", { src: expr<string>("workflow.input.src"), format: "mp4" });

    // @ts-expect-error reading a step output field that does not exist
    encode.step("bad1", { src: image.output.nope, format: "mp4" });
    // @ts-expect-error a workflow input that does not exist
    encode.step("bad2", { src: wf.input.source, format: "mp4" });
    // @ts-expect-error a number literal where a string is expected
    encode.step("bad3", { src: 42, format: "mp4" });
    // @ts-expect-error a Ref<number> where a string is expected
    encode.step("bad4", { src: image.output.size.width, format: "mp4" });
    // @ts-expect-error a field the task type does not take
    encode.step("bad5", { src: image.output.url, format: "mp4", codec: "h264" });
    // @ts-expect-error a required field missing
    encode.step("bad6", { src: image.output.url });
    // @ts-expect-error a step instead of a reference to one of its fields
    encode.step("bad7", { src: image, format: "mp4" });
    // @ts-expect-error a whole object output where a string is expected
    encode.step("bad8", { src: image.output.size, format: "mp4" });
    // @ts-expect-error a nested path below a string
    encode.step("bad9", { src: image.output.url.host, format: "mp4" });

    return { url: image.output.url, width: image.output.size.width };
  });
