// Type tests: a worker's handler and a run's input take their types from the
// SDK's declarations; the string forms keep working. Every `@ts-expect-error`
// line must be an error; the rest must compile.
import { taskType, workflow } from "@baton/sdk";
import { BatonClient, Worker, inProgress } from "../../src/index.js";

type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;
const expectType = <T extends true>(_: T): void => undefined;

const charge = taskType<{ orderId: string; cents: number }, { receipt: string }>("charge");
const order = workflow("order")
  .input<{ orderId: string; email: string }>("orderId", "email")
  .steps((wf) => ({ receipt: charge.step("charge", { orderId: wf.input.orderId, cents: 100 }).output.receipt }));

export async function checks(worker: Worker, client: BatonClient): Promise<void> {
  worker.handle(charge, async (input, task) => {
    expectType<Equal<typeof input, { orderId: string; cents: number }>>(true);
    await task.log(input.orderId);
    return { receipt: `r-${input.cents}` };
  });
  worker.handle(charge, () => inProgress(30));
  // @ts-expect-error the output lacks `receipt`
  worker.handle(charge, async () => ({ receit: "r" }));
  // @ts-expect-error the input has no `amount`
  worker.handle(charge, (input) => ({ receipt: String(input.amount) }));

  worker.handle("by_name", (input) => {
    expectType<Equal<typeof input, Record<string, unknown>>>(true);
    return {};
  });
  worker.handle<{ n: number }, { doubled: number }>("by_name", ({ n }) => ({ doubled: n * 2 }));

  await client.startWorkflow(order, { orderId: "o-1", email: "a@b.c" });
  await client.executeWorkflow(order, { orderId: "o-1", email: "a@b.c" }, { waitMs: 1000 });
  // @ts-expect-error `email` is missing
  await client.startWorkflow(order, { orderId: "o-1" });
  // @ts-expect-error `orderId` is a string
  await client.startWorkflow(order, { orderId: 1, email: "a@b.c" });
  await client.startWorkflow("order", { anything: true });
}
