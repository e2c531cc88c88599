// A flow that uses every task type and every WorkflowDef field, shared by the
// compile and determinism tests.
import { taskType, workflow } from "../src/index.js";

export const resize = taskType<{ src: string; width: number }, { url: string; meta: { bytes: number } }>("resize", {
  description: "resize an image",
  retryCount: 2,
  retryLogic: "FIXED",
  retryDelaySeconds: 1,
  timeoutSeconds: 60,
  responseTimeoutSeconds: 30,
});
export const store = taskType<{ url: string }, { key: string }>("store", { retryCount: 0 });

export const child = workflow("child_flow", { version: 3 })
  .input<{ url: string }>("url")
  .steps((wf) => {
    const s = store.step({ url: wf.input.url });
    return { key: s.output.key };
  });

export const onFailure = workflow("cleanup").steps((wf) => {
  wf.noop();
});

export function buildEveryTask() {
  return workflow("every_task", {
    description: "one of each",
    version: 7,
    timeoutSeconds: 600,
    timeoutPolicy: "TIME_OUT_WF",
    failureWorkflow: onFailure,
    restartable: false,
    workflowStatusListenerEnabled: true,
    ownerEmail: "team@example.com",
    metadata: { team: "media" },
  })
    .input<{ src: string; mode: "fast" | "slow"; names: string[] }>("src", "mode")
    .inputTemplate({ mode: "fast" })
    .variables<{ stage: string }>({ stage: "new" })
    .steps((wf) => {
      const first = resize.step("first", { src: wf.input.src, width: 100 }, { optional: true });
      const sw = wf.switch({
        ref: "by_mode",
        value: wf.input.mode,
        cases: { fast: [store.step("store_fast", { url: first.output.url })] },
        default: () => {
          wf.wait({ ref: "pause", duration: "10s" });
        },
      });
      wf.switch({
        ref: "by_script",
        script: "$.bytes > 1000 ? 'big' : 'small'",
        inputs: { bytes: first.output.meta.bytes },
        cases: { big: () => wf.human({ ref: "approve" }), small: () => wf.noop({ ref: "nothing" }) },
      });
      wf.decision({ ref: "legacy", value: sw.output.selectedCase, cases: { fast: () => wf.noop({ ref: "legacy_fast" }) } });
      const fan = wf.fork({
        ref: "fan",
        branches: [
          () => {
            resize.step("small", { src: first.output.url, width: 10 });
          },
          [resize.step("large", { src: first.output.url, width: 1000 })],
        ],
      });
      wf.dynamicFork({ ref: "each", task: store, inputs: [{ url: first.output.url }, { url: "literal" }] });
      wf.dynamicFork({ ref: "classic", tasks: [{ name: "store", taskReferenceName: "d1" }], inputs: { d1: { url: "x" } } });
      const loop = wf.loop({
        ref: "again",
        times: 3,
        body: () => {
          resize.step("in_loop", { src: first.output.url, width: 5 });
        },
      });
      wf.loop({ ref: "each_name", items: wf.input.names, body: () => wf.noop({ ref: "per_name" }) });
      const sub = wf.subWorkflow({ ref: "by_name", flow: child, input: { url: first.output.url } });
      wf.subWorkflow({ ref: "inline_child", flow: child, input: { url: sub.output.key }, inline: true });
      wf.subWorkflow({ ref: "registered", name: "legacy_flow", version: 2, input: { any: "thing" } });
      wf.startWorkflow({ ref: "kick", flow: child, input: { url: "u" }, correlationId: wf.correlationId });
      wf.dynamic({ ref: "pick", taskName: wf.input.mode, input: { n: 1 } });
      wf.event({ ref: "announce", sink: "conductor", input: { at: loop.output.iteration } });
      wf.http<{ ok: boolean }>({ ref: "call", uri: "https://example.com/hook", method: "POST", body: { id: wf.workflowId } });
      wf.inline<number>({ ref: "calc", script: "$.a + 1", inputs: { a: 1 } });
      wf.lambda<number>({ ref: "old_calc", script: "return $.a;", inputs: { a: 2 } });
      const t = wf.jq<string[]>({ ref: "names", query: ".names | map(ascii_upcase)", inputs: { names: wf.input.names } });
      wf.setVariables({ stage: "done" }, { ref: "mark" });
      wf.exclusiveJoin({ ref: "xjoin", on: [fan.join], default: [first] });
      wf.terminate({ ref: "stop", status: "COMPLETED", reason: "finished", output: { names: t.output.result } });
      return { first: first.output.url, large: fan.join.output };
    });
}
