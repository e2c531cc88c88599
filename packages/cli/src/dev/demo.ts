// The demo `baton dev --demo` runs: a three-step flow written with the typed
// builder (a TS worker task, an INLINE script, another worker task), its
// in-process worker, and one run of it.
import { BatonClient, Worker, type ConductorWorkflow } from "@baton/client";
import { taskType, workflow } from "@baton/sdk";

export const demoGreet = taskType<{ name: string }, { greeting: string }>("demo_greet", {
  description: "Baton demo: greets someone (in-process TypeScript worker)",
  retryCount: 1,
  timeoutSeconds: 60,
  responseTimeoutSeconds: 30,
});

export const demoShout = taskType<{ text: string }, { text: string }>("demo_shout", {
  description: "Baton demo: upper-cases a text (in-process TypeScript worker)",
  retryCount: 1,
  timeoutSeconds: 60,
  responseTimeoutSeconds: 30,
});

export const demoFlow = workflow("baton_demo", { description: "Baton demo: greet, exclaim (INLINE), shout", version: 1 })
  .input<{ name: string }>("name")
  .steps((wf) => {
    const greeting = demoGreet.step("greet", { name: wf.input.name });
    const exclaimed = wf.inline<string>({ ref: "exclaim", script: "$.greeting + '!'", inputs: { greeting: greeting.output.greeting } });
    const shouted = demoShout.step("shout", { text: exclaimed.output.result });
    return { message: shouted.output.text };
  });

/** The worker for the demo's task types. */
export function demoWorker(address: string): Worker {
  return new Worker({ address, workerId: "baton-dev-demo" })
    .handle<{ name?: string }, { greeting: string }>("demo_greet", (input) => ({ greeting: `Hello, ${input.name ?? "world"}` }), { concurrency: 4 })
    .handle<{ text?: string }, { text: string }>("demo_shout", (input) => ({ text: String(input.text ?? "").toUpperCase() }), { concurrency: 4 });
}

/** Registers the demo (a new version only if it changed) and runs it once. */
export async function runDemo(address: string, name = "world"): Promise<ConductorWorkflow> {
  const client = new BatonClient({ address });
  try {
    await client.registerTaskDefs(demoFlow.taskDefs());
    await client.registerWorkflowDef(demoFlow.toJSON(), { nextIfChanged: true });
    return await client.executeWorkflow(demoFlow.name, { name }, { waitMs: 15_000 });
  } finally {
    client.close();
  }
}
